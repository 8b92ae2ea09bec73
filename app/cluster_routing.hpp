#pragma once
// The routing half of a cluster node (issue 15; docs/CLUSTER-FORWARDING.md),
// as app/main.cpp sees it: the forwarder that becomes the runtime's
// `remote` door, and the internal listener that feeds commands from other
// nodes to the runtime's arrivals. Only in cluster mode (the lease keeper
// set s.runtime.shards); a single node builds neither.
//
//   start:  make_cluster_routing (before the runtime: sets s.runtime.remote)
//           -> runtime -> listen(actors.arrivals()) -> public HTTP server
//   stop:   public server drained -> stop(): internal listener drained and
//           closed, every forward in flight completed -> actors shut down
#include <chrono>
#include <memory>

namespace tally {

class arriving_commands;
class cluster_forwarder;
class forwarding_metrics;
class internal_server;
class metrics;
class remote_commands;
struct settings;

class cluster_routing {
public:
  cluster_routing(const settings& s, metrics& process_metrics);
  ~cluster_routing();

  cluster_routing(const cluster_routing&) = delete;
  cluster_routing& operator=(const cluster_routing&) = delete;

  remote_commands& remote();

  /// Binds TALLY_ADVERTISE_HOST:TALLY_INTERNAL_PORT and serves arrivals
  /// through `door` (std::runtime_error naming the address on failure).
  void listen(arriving_commands& door);

  /// Stops the internal listener (waiting up to `drain_max` for arrivals in
  /// flight), then the forwarder (every call in flight completes). Idempotent.
  void stop(std::chrono::milliseconds drain_max);

private:
  std::unique_ptr<forwarding_metrics> stats_;
  std::unique_ptr<cluster_forwarder> forwarder_;
  std::unique_ptr<internal_server> listener_;
  const settings& settings_;
  bool stopped_ = false;
};

/// Cluster mode (s.runtime.shards set): the routing, with s.runtime.remote
/// pointing at its forwarder. A single node: null, nothing changes.
std::unique_ptr<cluster_routing> make_cluster_routing(settings& s, metrics& process_metrics);

} // namespace tally
