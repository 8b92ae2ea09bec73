#pragma once
// The registry: (kind, key) -> entity actor, for every kind in the table of
// actors/entity_kinds.hpp. It routes every command by its entity's key with
// no code per command, activates an entity lazily on its first command, and
// retires entities through a handshake that cannot lose a message:
//
//   registry sweep: no command for passivate_after --idle_query--> entity
//   entity (nothing pending) --idle(id, activation, handled)--> registry
//   registry: forwarded == handled ? (nothing in transit)
//       yes -> erase the mapping, send passivate (the entity quits)
//       no  -> ignore; the entity stays until a later sweep finds it idle
//
// Every kind goes through the same handshake (entity_table.hpp on this side,
// lifecycle.hpp on theirs). Activation numbers are unique across kinds, so
// an idle/down/synced message finds its entry by (id, activation) in
// whichever table holds it.
//
// One periodic sweep here instead of a timer per entity: CAF keeps each
// delayed message as a clock entry of ~240 bytes, which for a million idle
// users is a quarter of the memory budget.
//
// An entity that dies on its own (or quits) is dropped from its table when
// its down notification arrives; messages already sent to it are dropped and
// their completion's fallback answers the caller.
#include <array>
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "caf/timespan.hpp"
#include "caf/typed_response_promise.hpp"

#include "actors/entity_context.hpp"
#include "actors/entity_kinds.hpp"
#include "protocols/caf_types.hpp"

namespace prometheus {
class Gauge;
}

namespace tally {

/// The sweep runs every passivate_after / 4, within these bounds: often
/// enough that an entity goes at most a quarter late, rarely enough that a
/// million entries cost nothing noticeable.
constexpr caf::timespan passivation_sweep_min = std::chrono::milliseconds(10);
constexpr caf::timespan passivation_sweep_max = std::chrono::seconds(60);
constexpr int passivation_sweeps_per_period = 4;

/// The sweep period for a given passivate_after.
caf::timespan passivation_sweep_interval(caf::timespan passivate_after);

/// tally_active_actors{kind} gauges the registry keeps current, indexed by
/// entity_kind (null: not published).
using registry_gauges = std::array<prometheus::Gauge*, entity_kind_count>;

/// Cluster hand-off (DESIGN.md "Cluster"): a drain of some shards waits
/// until their entities have committed everything and were passivated
/// through the idle handshake; they are asked every shard_drain_check_interval,
/// and after shard_drain_checks_max rounds the rest are passivated anyway.
constexpr caf::timespan shard_drain_check_interval = std::chrono::milliseconds(20);
constexpr int shard_drain_checks_max = 250;

/// One open shard drain (registry_state::shard_drains).
struct shard_drain {
  std::vector<int32_t> shards;
  caf::typed_response_promise<bool> promise;
  int checks_left = shard_drain_checks_max;
};

struct registry_state {
  static inline const char* name = "tally.registry";

  /// One table per kind, indexed by entity_kind.
  entity_tables tables;
  std::vector<reader_actor> readers;
  size_t next_reader = 0;
  /// Shared by every table: (id, activation) names one incarnation.
  uint64_t last_activation = 0;
  const entity_context* context = nullptr;
  registry_gauges gauges{};
  /// Set by drain: new commands get shutting_down.
  bool refusing = false;
  /// drain: entities (and their activation) that have not answered sync yet.
  std::unordered_map<uuid, uint64_t, uuid_hash> awaiting_sync;
  std::optional<caf::typed_response_promise<bool>> drain_promise;
  /// Cluster: shard drains in progress (hand-off).
  std::vector<shard_drain> shard_drains;
};

/// Behaviour of the registry. `readers` must not be empty; `context` and the
/// gauges outlive the actor.
registry_actor::behavior_type registry_behavior(registry_actor::stateful_pointer<registry_state> self,
                                                std::vector<reader_actor> readers,
                                                const entity_context* context,
                                                registry_gauges gauges);

} // namespace tally
