#pragma once
// Every reservation ends: the one periodic sweep of generations past their
// timeout_at (not a CAF timer per generation: each would hold a clock entry
// until it fires). A detached actor with its own store connection asks the
// store which users hold a due generation, every `interval`, and sends each
// of them expire_generations; the user actor fails and releases what is due
// in memory (its own clock decides), so a generation that finished
// meanwhile is left alone.
#include <chrono>
#include <cstddef>

#include "caf/fwd.hpp"
#include "caf/typed_actor.hpp"

#include "persistence/store_connection.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

/// Users asked per sweep at most; the rest wait for the next one.
constexpr size_t generation_sweep_users_max = 10'000;

using generation_sweeper_actor = caf::typed_actor<
  // (self) Periodic: find users with due generations and tell each one.
  caf::reacts_to<generation_sweep_atom>>;

struct generation_sweeper_state {
  static inline const char* name = "tally.generation_sweeper";
  store_connection db;
  registry_actor registry;
  std::chrono::milliseconds interval{30'000};
};

generation_sweeper_actor::behavior_type generation_sweeper_behavior(
  generation_sweeper_actor::stateful_pointer<generation_sweeper_state> self, store_factory make_store,
  registry_actor registry, std::chrono::milliseconds interval);

/// Spawns the sweeper on its own thread (its store calls block).
generation_sweeper_actor spawn_generation_sweeper(caf::actor_system& system, store_factory make_store,
                                                  registry_actor registry, std::chrono::milliseconds interval);

} // namespace tally
