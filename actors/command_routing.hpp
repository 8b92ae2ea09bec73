#pragma once
// The registry's first decision for every command (DESIGN.md "Cluster",
// docs/CLUSTER-FORWARDING.md): serve it here, send it to the node that
// serves its shard, or refuse it. A pure function of the shard directory's
// view, so tests/actors/command_routing_test.cpp checks every case.
//
//   single node (no directory)             -> serve       (today's path)
//   this node serves the key's shard       -> serve
//   it arrived from another node           -> misdirected (421, never a 2nd hop)
//   another node serves it, remote door    -> forward
//   nobody serves it / no door / a hand-over in progress -> unavailable (503)
#include <cstdint>

#include "protocols/cluster.hpp"
#include "protocols/outcome.hpp"
#include "protocols/uuid.hpp"

namespace tally {

enum class command_path : uint8_t {
  /// Route to the local entity.
  serve,
  /// Hand the envelope and its completion to remote_commands::forward.
  forward,
  /// Fail with shard_unavailable (Retry-After), no network call.
  unavailable,
  /// An arrival for a shard this node does not serve: not_shard_owner.
  misdirected,
};

/// Where a command for `key` goes. `arrived`: it came from another node.
inline command_path path_for(const shard_directory* shards, const remote_commands* remote,
                             const uuid& key, bool arrived) {
  if (shards == nullptr) return command_path::serve;  // one pointer test on a single node
  int shard = shard_of(key);
  if (shards->serves(shard)) return command_path::serve;
  if (arrived) return command_path::misdirected;
  // `local` here means the lease is ours but not servable now (its local
  // deadline passed, or it is being handed over): nobody may serve it.
  if (remote == nullptr || shards->route(shard).place != shard_place::remote)
    return command_path::unavailable;
  return command_path::forward;
}

/// The failures of the two refusing paths.
inline failure shard_unavailable_failure() {
  return {error_code::shard_unavailable, "The key's shard has no reachable owner now; retry shortly", 1};
}
inline failure not_shard_owner_failure() {
  return {error_code::not_shard_owner, "This node does not serve the key's shard", 0};
}

} // namespace tally
