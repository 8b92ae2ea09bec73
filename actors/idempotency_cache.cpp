#include "actors/idempotency_cache.hpp"

namespace tally {

const idempotency_cache::entry* idempotency_cache::find(const std::string& key) const {
  auto i = entries_.find(key);
  return i == entries_.end() ? nullptr : &i->second;
}

void idempotency_cache::add_lookup(const std::string& key, const std::string& request_digest) {
  entries_.emplace(key, entry{request_digest, {}, 0, key_state::looking_up});
}

void idempotency_cache::add_pending(const std::string& key, std::string request_digest, int status,
                                    std::string response) {
  auto& slot = entries_[key];
  // A committed key never runs again (it replays), so this never
  // overwrites one; keep the eviction order valid regardless.
  if (slot.state == key_state::committed && !slot.response.empty()) return;
  slot = entry{std::move(request_digest), std::move(response), status, key_state::pending};
}

void idempotency_cache::add_committed(const std::string& key, std::string request_digest,
                                      int status, std::string response) {
  auto [i, inserted] = entries_.try_emplace(key);
  bool was_committed = !inserted && i->second.state == key_state::committed;
  i->second = entry{std::move(request_digest), std::move(response), status, key_state::committed};
  if (!was_committed) remember_order(i->first);
  evict_beyond_bound();
}

void idempotency_cache::mark_committed(const std::string& key) {
  auto i = entries_.find(key);
  if (i == entries_.end() || i->second.state != key_state::pending) return;
  i->second.state = key_state::committed;
  remember_order(i->first);
  evict_beyond_bound();
}

void idempotency_cache::remove_uncommitted(const std::string& key) {
  auto i = entries_.find(key);
  if (i != entries_.end() && i->second.state != key_state::committed) entries_.erase(i);
}

void idempotency_cache::remember_order(const std::string& key_in_map) {
  order_.push_back(&key_in_map);
}

void idempotency_cache::evict_beyond_bound() {
  while (committed_count() > committed_max_) {
    // Copy first: the pointer refers to the key inside the node being erased.
    std::string oldest = *order_[order_head_++];
    entries_.erase(oldest);
    evicted_any_ = true;
  }
  // Compact once the consumed prefix dominates, so the vector stays O(bound).
  if (order_head_ > 0 && order_head_ * 2 >= order_.size()) {
    order_.erase(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(order_head_));
    order_head_ = 0;
  }
}

} // namespace tally
