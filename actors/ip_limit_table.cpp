#include "actors/ip_limit_table.hpp"

#include <algorithm>

namespace tally {

namespace {

/// Fraction of the bound freed at once when full: a sweep costs O(n), so it
/// must buy room for many insertions.
constexpr size_t evict_fraction = 16;

} // namespace

ip_limit_table::ip_limit_table(rate_limit limit, size_t entries_max)
  : limit_(limit),
    entries_max_(std::max<size_t>(entries_max, 1)),
    evict_batch_(std::max<size_t>(entries_max_ / evict_fraction, 1)) {}

gcra_decision ip_limit_table::check(const std::string& ip, timestamp_us now) {
  auto found = entries_.find(ip);
  if (found == entries_.end()) {
    auto decision = gcra(0, now, limit_);
    if (!decision.allowed) return decision;  // a limit that allows nothing keeps no state
    if (entries_.size() >= entries_max_) make_room(now);
    auto [inserted, _] = entries_.emplace(ip, entry{decision.tat, {}});
    recency_.push_front(&inserted->first);
    inserted->second.position = recency_.begin();
    return decision;
  }
  auto& known = found->second;
  auto decision = gcra(known.tat, now, limit_);
  if (decision.allowed) {
    known.tat = decision.tat;
    recency_.splice(recency_.begin(), recency_, known.position);
  }
  return decision;
}

void ip_limit_table::make_room(timestamp_us now) {
  const auto target = entries_max_ > evict_batch_ ? entries_max_ - evict_batch_ : 0;
  for (auto i = entries_.begin(); i != entries_.end();) {
    if (gcra_recovered(i->second.tat, now)) {
      recency_.erase(i->second.position);
      i = entries_.erase(i);
      ++evicted_recovered_;
    } else {
      ++i;
    }
  }
  while (entries_.size() > target && !recency_.empty()) {
    const std::string* oldest = recency_.back();
    recency_.pop_back();
    entries_.erase(entries_.find(*oldest));  // by iterator: the key lives in the node
    ++evicted_active_;
  }
}

} // namespace tally
