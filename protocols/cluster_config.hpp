#pragma once
// A node's cluster settings (API.md "Configuration": TALLY_CLUSTER,
// TALLY_NODE_ID, TALLY_INTERNAL_PORT, TALLY_ADVERTISE_HOST,
// TALLY_LEASE_TTL_MS). Parsed in app/cluster_settings.cpp; read by the lease
// keeper (actors/), the internal listener and the forwarder (http/).
#include <chrono>
#include <string>

namespace tally {

struct cluster_config {
  /// TALLY_CLUSTER=1: run as a node of the cluster recorded in the Postgres
  /// store. Off: a single node that serves every key (no leases at all).
  bool enabled = false;
  /// This node's id in cluster_nodes and /v1/admin/cluster: 1-64 characters
  /// of [A-Za-z0-9._-], unique per cluster. Default "<advertise host>:<http port>".
  std::string node_id;
  /// Port of the node-to-node listener (default: HTTP port + 1000).
  int internal_port = 0;
  /// The address other nodes use to reach this one (its internal listener
  /// binds it too).
  std::string advertise_host = "127.0.0.1";
  /// Shard lease time-to-live: a dead node's shards are served again by the
  /// others within this (plus one renewal).
  std::chrono::milliseconds lease_ttl{10'000};
};

} // namespace tally
