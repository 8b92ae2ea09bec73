#pragma once
// This process as a cluster node (TALLY_CLUSTER=1; DESIGN.md "Cluster"):
// joins the cluster recorded in the Postgres store, owns the shard map and
// the lease keeper, and leaves on SIGTERM. main.cpp's cluster lines, kept
// here so that main stays one readable sequence:
//
//   start:  cluster_node (join: shard count check, new incarnation)
//           -> runtime over fenced_stores (activation needs the lease)
//           -> start(registry): the keeper claims this node's share
//   stop:   stop_serving (every shard refused from now on)
//           -> runtime shutdown (drain, flush) -> leave (release every
//           lease at once, so the others take them on their next tick)
#include <chrono>
#include <memory>
#include <string>

#include "caf/fwd.hpp"

#include "actors/lease_keeper.hpp"
#include "actors/runtime.hpp"
#include "actors/shard_map.hpp"
#include "persistence/lease_store.hpp"
#include "protocols/cluster_config.hpp"
#include "protocols/cluster_metrics.hpp"

namespace tally {

class metrics;

class cluster_node {
public:
  /// Joins (blocks the calling, non-actor thread). Throws
  /// shard_count_mismatch (exit 2) or store_error (Postgres unreachable).
  cluster_node(const cluster_config& config, const std::string& db_url, const std::string& http_address,
               metrics& process_metrics);
  ~cluster_node();
  cluster_node(const cluster_node&) = delete;
  cluster_node& operator=(const cluster_node&) = delete;

  /// Store connections whose activations are fenced by this node's leases.
  store_factory fenced_stores() const;

  shard_directory& directory() { return map_; }
  cluster_status& status() { return map_; }
  const lease_holder& holder() const { return holder_; }

  /// Spawns the lease keeper (after the runtime: it talks to the registry).
  void start(caf::actor_system& system, registry_actor registry);

  /// SIGTERM, before the runtime stops: no shard is served from now on.
  void stop_serving();

  /// After the runtime stopped: every lease released, the node marked as
  /// left, the keeper gone. Blocks at most `max`.
  bool leave(caf::actor_system& system, std::chrono::milliseconds max);

private:
  cluster_config config_;
  std::string db_url_;
  lease_holder holder_;
  shard_map map_;
  cluster_metrics stats_;
  std::unique_ptr<lease_store> store_;
  lease_keeper_actor keeper_;
};

} // namespace tally
