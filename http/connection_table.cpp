#include "http/connection_table.hpp"

#include "protocols/invariant.hpp"

namespace tally {

connection_table::decision connection_table::admit(const std::string& ip) {
  // Told to close after the lock is released: dropping the last reference
  // to a victim runs its destructor, which calls release().
  std::shared_ptr<evictable> victims[2];
  auto result = admit_locked(ip, victims);
  for (auto& victim : victims)
    if (victim) victim->evict();
  return result;
}

connection_table::decision
connection_table::admit_locked(const std::string& ip, std::shared_ptr<evictable> (&victims)[2]) {
  std::lock_guard<std::mutex> lock(mutex_);
  bool evicted = false;
  auto ip_open = [&] {
    auto it = ips_.find(ip);
    return it == ips_.end() ? size_t{0} : it->second.open;
  };
  if (ip_open() >= limits_.per_ip_max) {
    if (!evict_oldest(&ip, victims[0])) return {admission::refused_ip, 0};
    evicted = true;
  }
  if (slots_.size() >= limits_.total_max) {
    if (!evict_oldest(nullptr, victims[1])) return {admission::refused_total, 0};
    evicted = true;
  }
  auto slot = next_slot_++;
  slots_.emplace(slot, slot_state{ip, 0, {}});
  ++ips_[ip].open;
  TALLY_INVARIANT(slots_.size() <= limits_.total_max, "open connections <= total_max", ip);
  return {evicted ? admission::admitted_evicted : admission::admitted, slot};
}

void connection_table::mark_idle(slot_id slot, std::weak_ptr<evictable> owner) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = slots_.find(slot);
  if (it == slots_.end() || it->second.idle_order != 0) return;
  auto order = next_idle_order_++;
  it->second.idle_order = order;
  it->second.owner = std::move(owner);
  idle_.emplace(order, slot);
  ips_[it->second.ip].idle.emplace(order, slot);
}

bool connection_table::mark_busy(slot_id slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = slots_.find(slot);
  if (it == slots_.end()) return false;
  auto order = it->second.idle_order;
  if (order != 0) {
    idle_.erase(order);
    ips_[it->second.ip].idle.erase(order);
    it->second.idle_order = 0;
    it->second.owner.reset();
  }
  return true;
}

void connection_table::release(slot_id slot) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = slots_.find(slot);
  if (it != slots_.end()) forget(it);
}

bool connection_table::evict_oldest(const std::string* ip, std::shared_ptr<evictable>& victim_owner) {
  std::map<uint64_t, slot_id>* candidates = &idle_;
  if (ip) {
    auto found = ips_.find(*ip);
    if (found == ips_.end()) return false;
    candidates = &found->second.idle;
  }
  if (candidates->empty()) return false;
  auto victim = slots_.find(candidates->begin()->second);
  TALLY_INVARIANT(victim != slots_.end(), "an idle slot is an open slot", "connection table");
  // A connection already on its way out has no owner left; its slot is
  // still freed, which is all the newcomer needs.
  victim_owner = victim->second.owner.lock();
  forget(victim);
  return true;
}

void connection_table::forget(std::unordered_map<slot_id, slot_state>::iterator it) {
  auto ip = ips_.find(it->second.ip);
  TALLY_INVARIANT(ip != ips_.end() && ip->second.open > 0, "an open slot counts for its IP",
                  it->second.ip);
  if (it->second.idle_order != 0) {
    idle_.erase(it->second.idle_order);
    ip->second.idle.erase(it->second.idle_order);
  }
  if (--ip->second.open == 0) ips_.erase(ip);
  slots_.erase(it);
}

size_t connection_table::open() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return slots_.size();
}

size_t connection_table::idle() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return idle_.size();
}

size_t connection_table::open_from(const std::string& ip) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = ips_.find(ip);
  return it == ips_.end() ? 0 : it->second.open;
}

} // namespace tally
