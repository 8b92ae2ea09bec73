#pragma once
// Store readers: detached actors (own thread, own connection) that load
// users and identities at activation, read ledger pages and look up
// idempotency keys, magic links, sessions and refresh tokens. A
// small pool, used round-robin, so one slow load does not stall every
// activation. Store failures come back as error values (store_unavailable),
// never as exceptions.
#include "caf/fwd.hpp"

#include "persistence/store_connection.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

struct store_health;

/// Retry-After (seconds) suggested when a read fails.
constexpr int reader_retry_after_s = 1;

struct reader_state {
  static inline const char* name = "tally.reader";
  store_connection db;
  store_health* health = nullptr;
};

/// Behaviour of one reader; spawn it detached in production (spawn_reader),
/// or scheduled on the test coordinator.
reader_actor::behavior_type reader_behavior(reader_actor::stateful_pointer<reader_state> self,
                                            store_factory make_store, store_health* health);

/// Spawns one reader on its own thread.
reader_actor spawn_reader(caf::actor_system& system, store_factory make_store, store_health& health);

} // namespace tally
