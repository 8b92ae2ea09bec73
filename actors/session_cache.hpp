#pragma once
// A user's sessions in memory, loaded one by one on first use
// (store::find_session), so an idle user costs no session memory and a
// user with many devices only holds the ones in use.
//
// Revoked, expired and unknown sessions stay as entries too: a client that
// keeps presenting a revoked access token costs no store read. The bound
// evicts the least recently used entry that nothing waits on (not loading,
// no uncommitted write): an evicted session is simply loaded again.
//
// Memory (issue 4: a million active users in 2 GiB): nearly every user holds
// exactly one session, so the entries are a plain vector searched linearly
// (a hash map cost a heap object, a bucket array and a node per user), the
// refresh hashes are packed hex digits instead of two heap strings, and the
// rarely used parts (plaintext token, waiting commands) are heap-allocated
// only while they exist.
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "protocols/caf_types.hpp"
#include "protocols/outcome.hpp"
#include "protocols/records.hpp"

namespace tally {

/// A session_row held compactly. The refresh hashes (lower-case hex that
/// Tally writes) are kept as nibbles; a row whose hashes are anything else
/// (the store's text is not ours to assume) keeps both as strings on the
/// heap, so row() always gives back exactly what assign() got.
class compact_session_row {
public:
  /// Hex digits a packed hash holds at most (a SHA-256 hex digest).
  static constexpr size_t packed_hex_chars_max = 64;

  void assign(const session_row& row);

  /// The full row (allocates its hash strings).
  session_row row() const;

  /// The row without its hashes: enough for session_usable, and free of
  /// allocations (it runs on every command).
  session_row without_hashes() const;

  const uuid& id() const { return id_; }

  /// An empty row with this id (an entry that is still loading, or that the
  /// store does not have).
  void reset(const uuid& id);

private:
  using packed_hex = std::array<uint8_t, packed_hex_chars_max / 2>;

  uuid id_{};
  uuid user_id_{};
  timestamp_us rotated_at_ = 0;
  timestamp_us created_at_ = 0;
  timestamp_us expires_at_ = 0;
  timestamp_us revoked_at_ = 0;
  packed_hex refresh_hash_{};
  packed_hex previous_refresh_hash_{};
  uint8_t refresh_hash_chars_ = 0;
  uint8_t previous_refresh_hash_chars_ = 0;
  /// Both hashes as given, when either cannot be packed; else null.
  std::unique_ptr<std::pair<std::string, std::string>> unpacked_;
};

struct session_entry {
  /// Commands waiting for the load: called with nullptr to run, or with the
  /// failure to answer.
  using waiting_list = std::vector<std::function<void(const failure*)>>;

  /// The store's answer is still on its way; commands wait in `waiting`.
  bool loading = true;
  /// The store has no such session (for this user).
  bool missing = false;
  /// Its id is the entry's key (set when added; a loaded row has the same).
  compact_session_row row;
  /// Plaintext of the row's refresh hash when this activation issued it: the
  /// grace window hands it out again. Null after a reload (most entries).
  std::unique_ptr<std::string> current_token;
  /// GCRA state of the refresh limit. Memory only: a passivation or restart
  /// forgets it, which at most grants one more burst.
  timestamp_us refresh_limit_tat = 0;
  /// Token of the newest uncommitted write touching this session (0 = none).
  uint64_t write_token = 0;
  /// Allocated only while commands wait for the load.
  std::unique_ptr<waiting_list> waiting;
  uint64_t last_used = 0;

  /// Queues a command until the load is done.
  void wait(std::function<void(const failure*)> command);

  /// The waiting commands, taken out (none left behind).
  waiting_list take_waiting();
};

class session_cache {
public:
  explicit session_cache(size_t entries_max) : entries_max_(entries_max) {}

  /// nullptr if not in memory. Marks it as used. The pointer (like every
  /// entry reference) stays valid until the next add() or erase().
  session_entry* find(const uuid& session);

  /// A new entry (loading) for `session`; evicts the least recently used
  /// evictable entries beyond the bound. `committed_token`: writes up to it
  /// are committed, so entries written no later can go.
  session_entry& add(const uuid& session, uint64_t committed_token);

  /// Forgets one entry (a failed load).
  void erase(const uuid& session);

  /// Every waiting command of every entry, taken out (retirement).
  session_entry::waiting_list take_all_waiting();

  /// Forgets every entry and releases their memory.
  void clear();

  size_t size() const { return entries_.size(); }

private:
  /// Removes entries_[index] (order is irrelevant: LRU uses last_used).
  void remove_at(size_t index);

  size_t entries_max_;
  uint64_t use_clock_ = 0;
  std::vector<session_entry> entries_;
};

} // namespace tally
