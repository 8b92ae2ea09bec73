#pragma once
// The lease keeper's view, shared with every thread of the node: which
// shards this node serves (until when), who owns the others, and the
// member list. Implements shard_directory (the registry and the forwarder
// read it) and cluster_status (/readyz, GET /v1/admin/cluster).
//
// serves() is the hot path (every command): one relaxed-free atomic load
// and a monotonic clock read, no lock. A shard is served while
// now < its deadline; the keeper moves the deadline forward after every
// renewal and sets it to zero to stop serving (hand-off, loss). A node
// whose keeper is stuck (Postgres unreachable, a pause) stops serving each
// shard at its deadline by itself: nothing has to happen for that.
#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "protocols/cluster.hpp"
#include "protocols/cluster_status.hpp"

namespace tally {

/// The monotonic clock the map reads (a test passes its own).
using monotonic_now = std::chrono::steady_clock::time_point (*)();

class shard_map final : public shard_directory, public cluster_status {
public:
  shard_map(std::string node_id, std::string internal_address,
            monotonic_now now = &std::chrono::steady_clock::now);

  // -- shard_directory (any thread, non-blocking) --------------------------------------
  bool serves(int shard) const override;
  shard_route route(int shard) const override;
  void refresh_soon() override;

  // -- cluster_status (any thread) -----------------------------------------------------
  std::string node_id() const override;
  std::string readiness_problem() const override;
  std::vector<cluster_member> members() const override;

  // -- the keeper's side ---------------------------------------------------------------
  /// Serve `shard` until `deadline` (a renewal or claim sent before it).
  void serve_until(int shard, std::chrono::steady_clock::time_point deadline);
  /// Stop serving `shard` at once (hand-off, loss).
  void stop_serving(int shard);
  /// Shards served now.
  std::vector<int> served() const;
  /// Owners by unexpired lease, from the store (the node's own shards it
  /// does not serve now read as unavailable).
  void set_routes(std::vector<shard_route> routes);
  void set_members(std::vector<cluster_member> members);
  /// The node joined, and renewed its membership at a statement sent at
  /// `sent`: ready until lease_deadline(sent, ttl).
  void renewed_membership(std::chrono::steady_clock::time_point deadline);
  /// SIGTERM: serve nothing from now on, whatever the keeper does next.
  void close();
  /// Called (once until taken) when refresh_soon() asks for a new map.
  void on_refresh_request(std::function<void()> ask);
  /// The keeper took the request: the next refresh_soon() asks again.
  void refresh_taken();

private:
  static int64_t ticks(std::chrono::steady_clock::time_point at) { return at.time_since_epoch().count(); }

  const std::string node_id_;
  const std::string internal_address_;
  const monotonic_now now_;
  /// Local deadline per shard, in steady_clock ticks; 0 = not served.
  std::array<std::atomic<int64_t>, shard_count> deadline_{};
  /// The node's own membership: ready until this (0 = not joined yet).
  std::atomic<int64_t> member_deadline_{0};
  std::atomic<bool> refresh_requested_{false};
  std::atomic<bool> closed_{false};

  mutable std::mutex mutex_;  // guards the three below
  std::vector<shard_route> routes_;
  std::vector<cluster_member> members_;
  std::function<void()> ask_refresh_;
};

} // namespace tally
