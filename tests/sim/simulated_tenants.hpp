#pragma once
// SIMULATION DOUBLE — the tenant tables of simulated_database, with the
// same contract as the SQLite/Postgres migration v3: tenant rows fenced on
// owner_epoch (a new one inserted), members unique per (tenant, user), a
// subdomain held by at most one tenant (its name is the key: a second
// holder's insert is refused) and a tenant holding at most one name, a
// release that deletes only this tenant's hold, and at most one
// subscription per tenant that is not cancelled. Not thread-safe: the
// database calls it under its lock.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "protocols/records.hpp"

namespace tally::sim {

struct tenant_tables {
  std::map<uuid, tenant_row> tenants;
  /// (tenant, user) -> role.
  std::map<std::pair<uuid, uuid>, std::string> members;
  /// name -> holder.
  std::map<std::string, uuid> subdomains;
  std::map<uuid, subscription_row> subscriptions;

  /// These tables after `batch`'s tenant rows, in order; throws
  /// store_error (fenced for an epoch, permanent for a constraint) and
  /// leaves these unchanged, like a rolled-back transaction.
  tenant_tables after(const write_batch& batch) const;

  std::optional<tenant_snapshot> activate(const uuid& tenant);
  uuid holder_of(const std::string& name) const;
  std::vector<membership_view> memberships_of(const uuid& user) const;
};

} // namespace tally::sim
