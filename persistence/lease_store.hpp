#pragma once
// Cluster membership and shard leases in the store (DESIGN.md "Cluster").
// Postgres only (a SQLite store is one node). One lease_store is one
// connection of its own, used by the lease keeper alone: renewals never wait
// behind the writer's commits or the readers' loads. Every call blocks, so
// only a detached actor calls it.
//
// Tables (persistence/migrations.cpp, version 6):
//   cluster_meta   (id = 1, shard_count)
//   cluster_nodes  (id, incarnation, http_address, internal_address,
//                   lease_ttl_ms, joined_at, renewed_at, left_at)
//   shard_leases   (shard, owner_node, owner_incarnation, epoch, expires_at)
//
// Expiry is decided by the database clock alone (now() in every statement);
// a node never compares its wall clock with another's. Failures are
// store_error (persistence/store.hpp), transient when the store is unreachable.
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocols/cluster_status.hpp"

namespace tally {

/// The store records another shard count than this build's (exit 2).
class shard_count_mismatch : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

/// Who this process is in the cluster: its id and the incarnation join
/// handed out (a new one per process start).
struct lease_holder {
  std::string node_id;
  int64_t incarnation = 0;
};

/// What join needs to know about this node.
struct node_registration {
  std::string node_id;
  std::string http_address;      ///< host:port for clients and the admin API
  std::string internal_address;  ///< host:port for node-to-node commands
  std::chrono::milliseconds lease_ttl{10'000};
};

/// A lease this node holds, with the shard's epoch (bumped by every claim).
struct held_lease {
  int shard = 0;
  int64_t epoch = 0;
};

/// One renewal's answer.
struct renewal {
  /// False when the node row names another incarnation (this process was
  /// superseded by a restart under the same id): it holds nothing.
  bool member = false;
  /// The leases still held, now expiring at (database) now() + TTL.
  std::vector<held_lease> leases;
};

/// A shard's current owner, for routing (unexpired leases only).
struct shard_owner {
  int shard = 0;
  std::string node_id;
  std::string internal_address;
};

/// A member as the admin API and the rendezvous placement see it.
struct member_row {
  cluster_member view;
  std::string internal_address;
  /// Left gracefully (SIGTERM): preferred for nothing.
  bool left = false;
};

class lease_store {
public:
  virtual ~lease_store() = default;

  /// Checks the shard count (recording it the first time; creating the
  /// shard rows), then registers the node with a new incarnation. Throws
  /// shard_count_mismatch when the store has another count.
  virtual lease_holder join(const node_registration& node, int shard_count) = 0;

  /// Claims each of `shards` that is free or expired (by the database
  /// clock), in one statement: epoch + 1, expires_at = now() + TTL. Returns
  /// the ones won.
  virtual std::vector<held_lease> claim(const std::vector<int>& shards) = 0;

  /// Renews every lease this incarnation still holds unexpired, and the
  /// node's renewed_at, in one statement.
  virtual renewal renew() = 0;

  /// Gives up these leases (graceful hand-off): free at once for a claim.
  virtual void release(const std::vector<int>& shards) = 0;

  /// SIGTERM: gives up every lease and marks the node as left.
  virtual void leave() = 0;

  /// Owner of every shard with an unexpired lease.
  virtual std::vector<shard_owner> routing_map() = 0;

  /// Every member seen within member_rows_window, with its status and the
  /// shards it holds.
  virtual std::vector<member_row> members() = 0;
};

/// Nodes not heard of for this long drop out of members() (a bound on the
/// admin answer; their rows stay).
constexpr std::chrono::hours member_rows_window{1};

/// Server-side bound on each lease statement: a renewal that takes longer
/// than this is worth less than the next one.
constexpr std::chrono::milliseconds lease_statement_timeout_max{2'000};

/// The Postgres lease store on its own connection to `url`; statements are
/// bounded by min(ttl / 5, lease_statement_timeout_max). Connects lazily.
std::unique_ptr<lease_store> open_postgres_lease_store(const std::string& url,
                                                       std::chrono::milliseconds lease_ttl);

} // namespace tally
