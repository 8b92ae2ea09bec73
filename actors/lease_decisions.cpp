#include "actors/lease_decisions.hpp"

#include <algorithm>

namespace tally {

uint64_t rendezvous_weight(std::string_view node_id, int shard) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a 64
  auto mix_byte = [&hash](uint8_t byte) {
    hash ^= byte;
    hash *= 1099511628211ull;
  };
  for (char c : node_id) mix_byte(static_cast<uint8_t>(c));
  mix_byte(0xff);  // separator: ("ab", 1) and ("a", ...) never collide by concatenation
  for (int i = 0; i < 4; ++i) mix_byte(static_cast<uint8_t>(static_cast<uint32_t>(shard) >> (8 * i)));
  // splitmix64's finaliser: FNV alone spreads nearby shard numbers poorly.
  hash ^= hash >> 30;
  hash *= 0xbf58476d1ce4e5b9ull;
  hash ^= hash >> 27;
  hash *= 0x94d049bb133111ebull;
  hash ^= hash >> 31;
  return hash;
}

std::string preferred_node(int shard, const std::vector<std::string>& live) {
  const std::string* best = nullptr;
  uint64_t best_weight = 0;
  for (const auto& node : live) {
    auto weight = rendezvous_weight(node, shard);
    if (best == nullptr || weight > best_weight || (weight == best_weight && node < *best)) {
      best = &node;
      best_weight = weight;
    }
  }
  return best == nullptr ? std::string{} : *best;
}

std::chrono::milliseconds lease_deadline_margin(std::chrono::milliseconds ttl) {
  return std::max(ttl / 10, std::chrono::milliseconds{50});
}

std::chrono::steady_clock::time_point lease_deadline(std::chrono::steady_clock::time_point sent,
                                                     std::chrono::milliseconds ttl) {
  return sent + ttl - lease_deadline_margin(ttl);
}

lease_plan plan_leases(const lease_view& view, size_t handoffs_max) {
  lease_plan plan;
  std::vector<std::string> live = view.live;
  if (std::find(live.begin(), live.end(), view.self) == live.end()) live.push_back(view.self);
  for (int shard = 0; shard < shard_count; ++shard) {
    auto preferred = preferred_node(shard, live);
    const auto& owner = view.owner[static_cast<size_t>(shard)];
    if (owner.empty()) {
      if (preferred == view.self || view.orphaned[static_cast<size_t>(shard)]) plan.claims.push_back(shard);
      continue;
    }
    if (view.serving[static_cast<size_t>(shard)] && owner == view.self && preferred != view.self
        && plan.handoffs.size() < handoffs_max)
      plan.handoffs.push_back(shard);
  }
  return plan;
}

} // namespace tally
