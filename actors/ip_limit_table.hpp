#pragma once
// The per-client-IP GCRA state of one limiter shard, bounded.
//
// At the bound, a new IP first makes room by dropping every entry whose
// limit has fully recovered (forgetting those changes no decision). If that
// frees too little, the least recently limited entries go as well: their
// IPs start afresh, which under a flood of distinct addresses is the price
// of bounded memory. Room is always made for `evict_batch` entries at once,
// so the O(n) sweep runs at most once per that many new IPs.
#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>

#include "actors/rate_limit.hpp"

namespace tally {

class ip_limit_table {
public:
  /// `entries_max` >= 1.
  ip_limit_table(rate_limit limit, size_t entries_max);

  /// Decides one event of `ip` at `now` and records it if allowed.
  gcra_decision check(const std::string& ip, timestamp_us now);

  size_t size() const { return entries_.size(); }
  /// Entries dropped so far because of the bound, recovered or not.
  size_t evicted_recovered() const { return evicted_recovered_; }
  size_t evicted_active() const { return evicted_active_; }

private:
  struct entry {
    timestamp_us tat = 0;
    /// Position in recency_ (most recently limited at the front).
    std::list<const std::string*>::iterator position;
  };

  void make_room(timestamp_us now);

  rate_limit limit_;
  size_t entries_max_;
  /// Entries freed at once when the table is full (1/16 of the bound).
  size_t evict_batch_;
  std::unordered_map<std::string, entry> entries_;
  /// Keys of entries_ (node-based: stable pointers), most recent first.
  std::list<const std::string*> recency_;
  size_t evicted_recovered_ = 0;
  size_t evicted_active_ = 0;
};

} // namespace tally
