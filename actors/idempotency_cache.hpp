#pragma once
// A user's idempotency keys in memory: the keys still in flight plus the
// newest committed ones, bounded by `committed_max` (oldest committed key out
// first). An evicted key is still in the store, so the owner must look a
// missing key up there once anything was evicted (evicted_any()).
#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace tally {

class idempotency_cache {
public:
  /// Where a key stands.
  enum class key_state : uint8_t {
    looking_up,  ///< not in memory; the store is being asked (counts as in flight)
    pending,     ///< accepted and applied, waiting for its commit
    committed,   ///< in the store; the response is final
  };

  struct entry {
    std::string request_digest;
    std::string response;  ///< msgpack result (protocols/codec.hpp); empty while looking up
    int status = 0;        ///< HTTP status of the stored response
    key_state state = key_state::looking_up;
  };

  explicit idempotency_cache(size_t committed_max) : committed_max_(committed_max) {}

  /// nullptr when the key is not in memory.
  const entry* find(const std::string& key) const;

  /// Marks a key as being looked up in the store.
  void add_lookup(const std::string& key, const std::string& request_digest);

  /// Records an accepted command's response, to be committed.
  void add_pending(const std::string& key, std::string request_digest, int status,
                   std::string response);

  /// A committed record (from the store or a commit). Evicts the oldest
  /// committed keys beyond the bound.
  void add_committed(const std::string& key, std::string request_digest, int status,
                     std::string response);

  /// A pending key's write committed.
  void mark_committed(const std::string& key);

  /// Forgets a key that is looking up or pending (lookup done, write failed).
  void remove_uncommitted(const std::string& key);

  /// True once a committed key was evicted: misses must ask the store.
  bool evicted_any() const { return evicted_any_; }

  size_t size() const { return entries_.size(); }
  size_t committed_count() const { return order_.size() - order_head_; }

private:
  void remember_order(const std::string& key);
  void evict_beyond_bound();

  size_t committed_max_;
  std::unordered_map<std::string, entry> entries_;
  /// Committed keys, oldest first from order_head_, as pointers to the map's
  /// keys (node-based: stable across rehashing). Compacted as it drains; a
  /// deque would cost ~600 bytes per user even when nearly empty.
  std::vector<const std::string*> order_;
  size_t order_head_ = 0;
  bool evicted_any_ = false;
};

} // namespace tally
