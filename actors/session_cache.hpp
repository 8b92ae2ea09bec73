#pragma once
// A user's sessions in memory, loaded one by one on first use
// (store::find_session), so an idle user costs no session memory and a
// user with many devices only holds the ones in use.
//
// Revoked, expired and unknown sessions stay as entries too: a client that
// keeps presenting a revoked access token costs no store read. The bound
// evicts the least recently used entry that nothing waits on (not loading,
// no uncommitted write): an evicted session is simply loaded again.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocols/caf_types.hpp"
#include "protocols/outcome.hpp"
#include "protocols/records.hpp"

namespace tally {

struct session_entry {
  /// The store's answer is still on its way; commands wait in `waiting`.
  bool loading = true;
  /// The store has no such session (for this user).
  bool missing = false;
  session_row row;
  /// Plaintext of row.refresh_hash when this activation issued it: the
  /// grace window hands it out again. Empty after a reload.
  std::string current_token;
  /// GCRA state of the refresh limit. Memory only: a passivation or restart
  /// forgets it, which at most grants one more burst.
  timestamp_us refresh_limit_tat = 0;
  /// Token of the newest uncommitted write touching this session (0 = none).
  uint64_t write_token = 0;
  /// Commands waiting for the load: called with nullptr to run, or with the
  /// failure to answer.
  std::vector<std::function<void(const failure*)>> waiting;
  uint64_t last_used = 0;
};

class session_cache {
public:
  explicit session_cache(size_t entries_max) : entries_max_(entries_max) {}

  /// nullptr if not in memory. Marks it as used.
  session_entry* find(const uuid& session);

  /// A new entry (loading) for `session`; evicts the least recently used
  /// evictable entries beyond the bound. `committed_token`: writes up to it
  /// are committed, so entries written no later can go.
  session_entry& add(const uuid& session, uint64_t committed_token);

  /// Forgets one entry (a failed load).
  void erase(const uuid& session);

  /// Every waiting command of every entry, taken out (retirement).
  std::vector<std::function<void(const failure*)>> take_all_waiting();

  size_t size() const { return entries_.size(); }

private:
  size_t entries_max_;
  uint64_t use_clock_ = 0;
  std::unordered_map<uuid, session_entry, uuid_hash> entries_;
};

} // namespace tally
