#pragma once
// Store readers: detached actors (own thread, own connection) that load
// users and identities at activation, read ledger pages and look up
// idempotency keys, magic links, sessions and refresh tokens. A
// small pool, used round-robin, so one slow load does not stall every
// activation. Store failures come back as error values (store_unavailable),
// never as exceptions.
//
// Adaptive group reads, like the writer's group commit: user activations
// idempotency lookups and identity probes are queued as they arrive, and one self-sent
// `flush` is outstanding while anything is queued. When it is handled, one
// store call serves a whole batch (one transaction bumping every queued
// user's epoch; one query for every queued key), so a batch is whatever
// arrived while the previous store call ran (no timer delay).
//
//   load / lookup ---> queue (bounded: overloaded) --flush--> one store call per kind
//                                                     |
//                                                     +-- transient: once more, then store_unavailable to all
//                                                     +-- permanent: halves, halves of halves (bisect.hpp),
//                                                         so one bad row fails only its own requester
#include <cstddef>
#include <deque>

#include "caf/fwd.hpp"
#include "caf/typed_response_promise.hpp"

#include "persistence/store_connection.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

struct store_health;

/// Retry-After (seconds) suggested when a read fails.
constexpr int reader_retry_after_s = 1;

/// Queued activations and lookups (together) per reader at most; beyond it
/// a request is answered overloaded at once instead of growing memory.
constexpr size_t reader_queue_max = 16384;

/// Users activated per store transaction at most: bounds how long the
/// transaction holds row locks and how big one answer gets (each snapshot
/// may carry thousands of idempotency records).
constexpr size_t reader_activation_batch_max = 256;

/// Idempotency keys looked up per store call at most.
constexpr size_t reader_lookup_batch_max = 1024;

/// Identity probes (login gate) answered per store call at most.
constexpr size_t reader_probe_batch_max = 1024;

/// Store calls spent at most on splitting one batch that failed for good.
/// One bad request in a full lookup batch costs about 2 * log2(1024) = 20,
/// so this isolates a few; the requests left then get store_unavailable (a
/// retryable 503) rather than hold every other read behind a call each.
constexpr size_t reader_split_calls_max = 64;

/// A load waiting for the next batch.
struct queued_activation {
  activation_request request;
  caf::typed_response_promise<user_snapshot> promise;
};

/// A lookup waiting for the next batch.
struct queued_lookup {
  idempotency_probe probe;
  caf::typed_response_promise<idempotency_lookup> promise;
};

/// An identity probe waiting for the next batch.
struct queued_probe {
  uuid identity{};
  caf::typed_response_promise<bool> promise;
};

struct reader_state {
  static inline const char* name = "tally.reader";
  store_connection db;
  store_health* health = nullptr;
  std::deque<queued_activation> activations;
  std::deque<queued_lookup> lookups;
  std::deque<queued_probe> probes;
  /// A flush is in the mailbox: the next request rides on it.
  bool flush_outstanding = false;
};

/// Behaviour of one reader; spawn it detached in production (spawn_reader),
/// or scheduled on the test coordinator.
reader_actor::behavior_type reader_behavior(reader_actor::stateful_pointer<reader_state> self,
                                            store_factory make_store, store_health* health);

/// Spawns one reader on its own thread.
reader_actor spawn_reader(caf::actor_system& system, store_factory make_store, store_health& health);

} // namespace tally
