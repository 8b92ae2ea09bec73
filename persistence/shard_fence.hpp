#pragma once
// Fencing layer 1 (DESIGN.md "Cluster"): inside an activation's transaction,
// before anything is bumped, the node must hold the lease of every shard
// the activated keys live in, unexpired by the database clock. The lease
// rows are locked FOR SHARE until the transaction ends, so a claim by
// another node (an UPDATE of the same row) waits for this activation to
// commit and then bumps the shard's epoch after it: an activation either
// happens entirely under this node's lease or not at all. Only
// persistence/postgres_store.cpp includes this (it needs pqxx).
#include <pqxx/pqxx>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "persistence/lease_store.hpp"
#include "persistence/store.hpp"
#include "protocols/cluster.hpp"

namespace tally {

/// Throws store_error(fenced) unless `holder` holds every shard of `keys`;
/// does nothing when `holder` is empty (a single node, no leases).
inline void require_shard_leases(pqxx::work& tx, const lease_holder& holder, const std::vector<uuid>& keys) {
  if (holder.node_id.empty() || keys.empty()) return;
  std::set<int> shards;
  for (const auto& key : keys) shards.insert(shard_of(key));
  std::string wanted = "{";
  for (int shard : shards) wanted += (wanted.size() > 1 ? "," : "") + std::to_string(shard);
  wanted += "}";
  auto held = tx.exec_params(
    "SELECT shard FROM shard_leases WHERE shard = ANY($1::integer[]) AND owner_node = $2"
    " AND owner_incarnation = $3 AND expires_at > now() ORDER BY shard FOR SHARE",
    wanted, holder.node_id, holder.incarnation);
  if (held.size() != shards.size())
    throw store_error(store_fault::fenced, "postgres: node " + holder.node_id + " (incarnation " +
                                             std::to_string(holder.incarnation) +
                                             ") does not hold the shard lease of this activation");
}

} // namespace tally
