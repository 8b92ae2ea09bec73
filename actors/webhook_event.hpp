#pragma once
// The webhook-event actor: the single owner of one payment event id (key:
// webhook_event_key(event id)). It counts deliveries, keeps the dedupe
// record, and lets exactly one delivery ask for the top-up; deliveries that
// arrive meanwhile wait for that outcome and then answer `duplicate` (never
// 409, never a second top-up).
//
//   spawn --first command--> load record --> active --write_failed--> retiring
//                                              |
//            first delivery of a top-up type:  | settling: the user actor tops up
//            dispatch topup_request to the     | (or answers "already paid");
//            user, whose answer comes back as  | later deliveries wait
//            webhook_settle_request through    |
//            the registry ---------------------+--> answer the first, then the waiting
//
// The `processed` record commits in the user's top-up transaction, not
// here: a crash after the top-up can never lose it. This actor writes the
// other statuses (ignored, rejected, duplicate) and delivery counts; the
// stores merge every write of the record monotonically, so the two writers
// never undo each other. Loads use `await` (one command at a time); the
// top-up itself is awaited as a message, so the actor keeps serving GETs.
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "actors/entity_context.hpp"
#include "actors/write_pipeline.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

/// Retry-After (seconds) suggested when a webhook event answers 503.
constexpr int webhook_retry_after_s = 1;

/// A write of this event and what to do when the writer reports on it.
struct webhook_event_write {
  uint64_t token = 0;
  std::function<void()> on_commit;
  std::function<void(const failure&)> on_fail;
};

struct webhook_event_state {
  enum class phase : uint8_t {
    unloaded,  ///< the record is not read yet (the first command reads it)
    active,    ///< serving
    retiring,  ///< answering 503 until the registry retires it
  };

  static inline const char* name = "tally.webhook_event";

  uuid id{};
  uint64_t activation = 0;
  const entity_context* context = nullptr;
  registry_actor registry;
  reader_actor reader;

  phase current = phase::unloaded;
  /// The record as memory knows it; nullopt: never seen (or expired).
  std::optional<webhook_event_row> row;

  /// A top-up is in flight for attempt number `attempt`.
  bool settling = false;
  uint64_t attempt = 0;
  /// The record before the attempt (restored if it fails transiently).
  std::optional<webhook_event_row> before_attempt;
  /// The delivery that asked for the top-up, and those waiting behind it.
  reply<webhook_outcome> first;
  std::vector<reply<webhook_outcome>> waiting;

  uint64_t handled = 0;
  write_pipeline<webhook_event_write> writes;

  // -- lifecycle predicates (lifecycle.hpp) --------------------------------------
  bool retiring() const { return current == phase::retiring; }
  /// Every store answer is awaited, so none can come back after a retirement.
  bool can_retire_now() const { return true; }
  bool idle_now() const { return current != phase::retiring && writes.empty() && !settling; }
};

/// Behaviour of one webhook-event actor, spawned by the registry.
webhook_event_actor::behavior_type webhook_event_behavior(
  webhook_event_actor::stateful_pointer<webhook_event_state> self, uuid id, uint64_t activation,
  registry_actor registry, reader_actor reader, const entity_context* context);

} // namespace tally
