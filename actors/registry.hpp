#pragma once
// The registry: uuid -> user actor. It activates a user lazily on its first
// message, forwards every command, and retires users through a handshake
// that cannot lose a message:
//
//   registry sweep: no command for passivate_after --idle_query--> user
//   user (nothing pending) --idle(id, activation, handled)--> registry
//   registry: forwarded == handled ? (nothing in transit)
//       yes -> erase the mapping, send passivate (the user quits)
//       no  -> ignore; the user stays until a later sweep finds it idle
//
// One periodic sweep here instead of a timer per user: CAF keeps each
// delayed message as a clock entry of ~240 bytes, which for a million idle
// users is a quarter of the memory budget.
//
// A user that dies on its own (or quits) is dropped from the map when its
// down notification arrives; messages already sent to it are dropped and
// their reply<T> fallback answers the caller.
#include <cstdint>
#include <optional>
#include <unordered_map>
#include <vector>

#include "caf/actor_clock.hpp"
#include "caf/timespan.hpp"
#include "caf/typed_response_promise.hpp"

#include "actors/user.hpp"
#include "protocols/caf_types.hpp"

namespace prometheus {
class Gauge;
}

namespace tally {

struct registry_entry {
  user_actor handle;
  /// This incarnation's number: stale idle/down messages of an earlier one
  /// for the same uuid are recognised and ignored.
  uint64_t activation = 0;
  /// Messages sent to it (the handshake's half of the count).
  uint64_t forwarded = 0;
  /// When the last command was forwarded (virtual time under tests).
  caf::actor_clock::time_point last_forward{};
  /// It was sent a mutation: a drain must wait for it (reads need no flush).
  bool wrote = false;
};

/// The sweep runs every passivate_after / 4, within these bounds: often
/// enough that a user goes at most a quarter late, rarely enough that a
/// million entries cost nothing noticeable.
constexpr caf::timespan passivation_sweep_min = std::chrono::milliseconds(10);
constexpr caf::timespan passivation_sweep_max = std::chrono::seconds(60);
constexpr int passivation_sweeps_per_period = 4;

/// The sweep period for a given passivate_after.
caf::timespan passivation_sweep_interval(caf::timespan passivate_after);

struct registry_state {
  static inline const char* name = "tally.registry";

  std::unordered_map<uuid, registry_entry, uuid_hash> users;
  std::vector<reader_actor> readers;
  size_t next_reader = 0;
  uint64_t last_activation = 0;
  const user_context* context = nullptr;
  /// tally_active_actors{kind="user"}
  prometheus::Gauge* active_users = nullptr;
  /// Set by drain: new commands get shutting_down.
  bool refusing = false;
  /// drain: users (and their activation) that have not answered sync yet.
  std::unordered_map<uuid, uint64_t, uuid_hash> awaiting_sync;
  std::optional<caf::typed_response_promise<bool>> drain_promise;
};

/// Behaviour of the registry. `readers` must not be empty; `context` and
/// `active_users` outlive the actor.
registry_actor::behavior_type registry_behavior(registry_actor::stateful_pointer<registry_state> self,
                                                std::vector<reader_actor> readers,
                                                const user_context* context,
                                                prometheus::Gauge* active_users);

} // namespace tally
