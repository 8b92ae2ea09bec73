#pragma once
// The cluster's vocabulary (DESIGN.md "Cluster"): which shard a key lives in,
// and the two narrow doors between the parts that run a node.
//
//   shard_directory  the lease keeper's current view (actors/ implements it,
//                    the registry, the readers and http/ read it)
//   remote_commands  sends a command to the node that serves its shard
//                    (http/ implements it over HTTP + msgpack; the registry
//                    calls it for every key this node does not serve)
//
// A single node (no TALLY_CLUSTER) has neither: the registry serves every key.
#include <cstdint>
#include <string>

#include "protocols/commands.hpp"
#include "protocols/uuid.hpp"

namespace tally {

/// Shards per cluster: fixed for the life of a cluster and recorded in the
/// store; a node built with another count refuses to start.
inline constexpr int shard_count = 256;

/// The shard of an entity key: FNV-1a (32 bit) over the key's 16 bytes,
/// modulo shard_count. Stable across builds and machines (never std::hash).
int shard_of(const uuid& key);

/// Where a shard is served, as this node knows it now.
enum class shard_place : uint8_t {
  /// This node holds the lease and its local deadline has not passed.
  local,
  /// Another node holds the lease (address below).
  remote,
  /// Nobody holds it, its lease expired, or this node is handing it over:
  /// callers answer 503 shard_unavailable with Retry-After.
  unavailable,
};

struct shard_route {
  shard_place place = shard_place::unavailable;
  /// The owner's TALLY_NODE_ID and its internal address ("host:port").
  std::string node_id;
  std::string address;
};

/// The lease keeper's view. Thread-safe and non-blocking: the registry reads
/// it on a CAF worker for every command, the forwarder on an Asio thread.
class shard_directory {
public:
  virtual ~shard_directory() = default;

  /// True while this node holds the shard's lease, before its own monotonic
  /// deadline (renewal sent + TTL - margin), and is not handing it over.
  virtual bool serves(int shard) const = 0;

  /// Where to send a command for the shard now.
  virtual shard_route route(int shard) const = 0;

  /// A miss or a 421 from another node: re-read the routing map soon
  /// (asynchronously; never blocks the caller).
  virtual void refresh_soon() = 0;
};

/// Commands for keys whose shard another node serves.
class remote_commands {
public:
  virtual ~remote_commands() = default;

  /// Sends `message` to its shard's owner (one hop; on 421 the map is
  /// refreshed and the send retried once). `done` completes exactly once, on
  /// any thread: with the owner's reply, or with shard_unavailable
  /// (Retry-After) when no owner answers by the deadline.
  virtual void forward(envelope message, completion done) = 0;
};

} // namespace tally
