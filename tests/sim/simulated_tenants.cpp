#include "tests/sim/simulated_tenants.hpp"

#include "persistence/store.hpp"

namespace tally::sim {

namespace {

[[noreturn]] void refuse(store_fault fault, const std::string& why) {
  throw store_error(fault, "simulated: " + why);
}

} // namespace

tenant_tables tenant_tables::after(const write_batch& batch) const {
  tenant_tables next = *this;
  for (const auto& row : batch.tenants) {
    auto found = next.tenants.find(row.id);
    if (found != next.tenants.end() && found->second.owner_epoch != row.owner_epoch)
      refuse(store_fault::fenced, "tenant owner epoch moved");
    auto kept = row;
    if (found != next.tenants.end()) {
      kept.owner_id = found->second.owner_id;  // name, module and subdomain change; owner never
      kept.created_at = found->second.created_at;
    }
    next.tenants[row.id] = kept;
  }
  for (const auto& row : batch.tenant_members)
    if (!next.members.emplace(std::pair{row.tenant_id, row.user_id}, row.role).second)
      refuse(store_fault::permanent, "duplicate tenant member");
  for (const auto& row : batch.subdomains) {
    if (row.held) {
      if (next.subdomains.count(row.name)) refuse(store_fault::permanent, "subdomain already held");
      for (const auto& [name, holder] : next.subdomains)
        if (holder == row.tenant_id) refuse(store_fault::permanent, "tenant already holds a subdomain");
      next.subdomains[row.name] = row.tenant_id;
      continue;
    }
    auto held = next.subdomains.find(row.name);
    if (held == next.subdomains.end() || held->second != row.tenant_id)
      refuse(store_fault::permanent, "subdomain not held by this tenant");
    next.subdomains.erase(held);
  }
  for (const auto& row : batch.subscriptions) {
    auto& slot = next.subscriptions[row.id];
    slot = row;
    size_t live = 0;
    for (const auto& [id, sub] : next.subscriptions)
      if (sub.tenant_id == row.tenant_id && sub.status != "cancelled") ++live;
    if (live > 1) refuse(store_fault::permanent, "a second live subscription");
  }
  return next;
}

std::optional<tenant_snapshot> tenant_tables::activate(const uuid& tenant) {
  auto found = tenants.find(tenant);
  if (found == tenants.end()) return std::nullopt;
  ++found->second.owner_epoch;
  tenant_snapshot snapshot;
  snapshot.tenant = found->second;
  for (const auto& [key, role] : members)
    if (key.first == tenant) snapshot.members.push_back(tenant_member_row{tenant, key.second, role, 0});
  for (const auto& [id, sub] : subscriptions)
    if (sub.tenant_id == tenant
        && (!snapshot.subscription || sub.created_at >= snapshot.subscription->created_at))
      snapshot.subscription = sub;
  return snapshot;
}

uuid tenant_tables::holder_of(const std::string& name) const {
  auto found = subdomains.find(name);
  return found == subdomains.end() ? uuid{} : found->second;
}

std::vector<membership_view> tenant_tables::memberships_of(const uuid& user) const {
  std::vector<membership_view> found;
  for (const auto& [key, role] : members)
    if (key.second == user) found.push_back(membership_view{key.first, tenants.at(key.first).name, role});
  return found;
}

} // namespace tally::sim
