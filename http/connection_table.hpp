#pragma once
// Who holds the server's connections, so that idle ones cannot lock busy
// clients out (issue 9: 300 idle keep-alive connections locked every client
// out of an instance capped at 300).
//
//   admit(ip) ──▶ admitted ──mark_idle──▶ idle ──mark_busy──▶ admitted ...
//                    │                      │
//                    │                      └── evicted by a newcomer when
//                    │                          full (oldest idle first)
//                    └── release() when the connection is gone
//
// A newcomer is admitted while fewer than total_max connections are open
// and its IP holds fewer than per_ip_max. Otherwise the oldest idle
// connection (of its IP when the per-IP cap is the reason) is evicted to
// make room: its slot is freed at once and the owner is told to close. With
// nothing idle to evict the newcomer is refused (the server answers 503 +
// Retry-After). "Idle" means waiting for the first byte of a request: a new
// connection that has sent nothing yet, or a keep-alive one between requests.
// Thread-safe (one mutex, held for a few map operations); no I/O.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace tally {

/// A connection the table may close to make room; implemented by the
/// session (posts a close to its own strand).
class evictable {
public:
  virtual ~evictable() = default;
  /// Its slot is already gone: close soon (called outside the table's lock).
  virtual void evict() = 0;
};

/// Limits of a connection_table.
struct connection_limits {
  size_t total_max = 10'000;
  size_t per_ip_max = 256;
};

/// The answer to admit().
enum class admission : uint8_t {
  admitted,         ///< a free slot
  admitted_evicted, ///< an idle connection was evicted to make room
  refused_total,    ///< total_max busy connections: answer 503
  refused_ip,       ///< per_ip_max busy connections from this IP: answer 503
};

class connection_table {
public:
  /// Identifies one admitted connection; 0 = none.
  using slot_id = uint64_t;

  explicit connection_table(connection_limits limits) : limits_(limits) {}

  connection_table(const connection_table&) = delete;
  connection_table& operator=(const connection_table&) = delete;

  struct decision {
    admission verdict = admission::refused_total;
    slot_id slot = 0;  ///< set when admitted
  };

  /// Admits a connection from `ip` (as busy), evicting an idle one if needed.
  decision admit(const std::string& ip);

  /// The connection waits for a request: it may be evicted from now on.
  void mark_idle(slot_id slot, std::weak_ptr<evictable> owner);

  /// The connection got request bytes: no longer evictable. False when it was
  /// evicted meanwhile (its slot is gone: the caller closes).
  bool mark_busy(slot_id slot);

  /// The connection is gone. Safe after an eviction (then a no-op).
  void release(slot_id slot);

  size_t open() const;
  size_t idle() const;
  size_t open_from(const std::string& ip) const;

private:
  struct slot_state {
    std::string ip;
    /// Position in idle_ (0 = busy).
    uint64_t idle_order = 0;
    std::weak_ptr<evictable> owner;
  };

  decision admit_locked(const std::string& ip, std::shared_ptr<evictable> (&victims)[2]);
  /// Frees the oldest idle slot (of `ip` unless null) and hands out its
  /// owner to be told; false if there is none.
  bool evict_oldest(const std::string* ip, std::shared_ptr<evictable>& victim_owner);
  void forget(std::unordered_map<slot_id, slot_state>::iterator it);

  const connection_limits limits_;
  mutable std::mutex mutex_;
  slot_id next_slot_ = 1;
  uint64_t next_idle_order_ = 1;
  std::unordered_map<slot_id, slot_state> slots_;
  /// Idle slots, oldest first.
  std::map<uint64_t, slot_id> idle_;
  /// Per IP: open slots, and its idle ones oldest first.
  struct ip_state {
    size_t open = 0;
    std::map<uint64_t, slot_id> idle;
  };
  std::unordered_map<std::string, ip_state> ips_;
};

} // namespace tally
