#pragma once
// The lease keeper (DESIGN.md "Cluster"): one detached actor per node (its
// own thread: every store call blocks) that holds this node's shard leases
// and keeps the shard_map current.
//
//   lease tick (every TTL / 5):
//     1. shards past their local deadline -> lost (registry passivates them)
//     2. renew: ONE statement; deadline = sent + TTL - margin for what it
//        returned, everything else lost
//     3. members + routing map -> preference by rendezvous over live nodes
//     4. claim free/expired shards this node is preferred for (and orphans):
//        registry forgets stale entities of them, then they are served
//     5. hand over (a few per tick) shards another live node is preferred
//        for: stop serving -> registry drains (entities commit and are
//        passivated) -> release the lease (the newcomer claims it)
//   routing tick (every routing_refresh_interval, and at once on
//   refresh_soon()): the routing map from shard_leases
//   leave (SIGTERM, after the runtime stopped): release every lease, mark
//   the node as left, quit.
//
// Postgres unreachable: no renewal succeeds, so every shard's deadline
// passes and serves() turns false by itself; /readyz reports it once the
// membership deadline passed. When Postgres is back, leases that expired are
// claimed again (new epochs) and the node serves again.
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <set>

#include "caf/fwd.hpp"
#include "caf/typed_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

#include "actors/shard_map.hpp"
#include "persistence/lease_store.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

class cluster_metrics;

/// How often the routing map is re-read from the store (DESIGN.md: every
/// 250-500 ms, and at once on a miss).
constexpr std::chrono::milliseconds routing_refresh_interval{300};

/// How long a hand-off waits for the registry's drain before releasing
/// anyway (entities left are passivated by the registry's own deadline).
constexpr std::chrono::seconds handoff_drain_timeout{10};

using lease_keeper_actor = caf::typed_actor<
  // (self) Periodic: renew, refresh members, claim, hand over.
  caf::reacts_to<lease_tick_atom>,
  // (self, or refresh_soon) Re-read the routing map; true: the periodic one.
  caf::reacts_to<routing_tick_atom, bool>,
  // SIGTERM, after the runtime stopped: release every lease, leave, quit.
  caf::replies_to<lease_leave_atom>::with<bool>>;

struct lease_keeper_settings {
  std::chrono::milliseconds lease_ttl{10'000};
};

struct lease_keeper_state {
  static inline const char* name = "tally.lease_keeper";

  std::unique_ptr<lease_store> store;
  shard_map* map = nullptr;
  registry_actor registry;
  cluster_metrics* stats = nullptr;
  lease_keeper_settings settings;
  std::string self_id;
  /// Shards this node holds (served or being handed over).
  std::set<int> held;
  /// Shards being handed over (held, not served).
  std::set<int> handing_over;
  /// Shards just claimed: served once the registry dropped whatever an
  /// earlier tenure left of them.
  std::set<int> preparing;
  /// A periodic routing refresh is scheduled (refresh_soon adds one-offs).
  bool routing_armed = false;
  /// Since when each shard was seen free (steady clock; nullopt: owned).
  std::array<std::optional<std::chrono::steady_clock::time_point>, shard_count> free_since;
  /// The last owners read (routing map), by shard ("" = free).
  std::array<std::string, shard_count> owners;
  /// Store trouble is logged once per outage.
  bool store_failing = false;
  bool leaving = false;
};

/// Behaviour of the keeper; spawn it detached in production
/// (spawn_lease_keeper), or scheduled on the test coordinator.
lease_keeper_actor::behavior_type lease_keeper_behavior(lease_keeper_actor::stateful_pointer<lease_keeper_state> self,
                                                        std::unique_ptr<lease_store> store, shard_map* map,
                                                        registry_actor registry, cluster_metrics* stats,
                                                        lease_keeper_settings settings);

/// Spawns the keeper on its own thread. `store` has joined already (its
/// holder is this process's incarnation); `map`, `stats` and the registry
/// outlive it.
lease_keeper_actor spawn_lease_keeper(caf::actor_system& system, std::unique_ptr<lease_store> store,
                                      shard_map& map, registry_actor registry, cluster_metrics* stats,
                                      lease_keeper_settings settings);

} // namespace tally
