#pragma once
// Payment webhooks (API.md "Payment webhooks"): what http/ makes of a
// verified delivery, what the webhook-event entity answers, and the two
// record types that make top-ups exactly-once.
//
// Owners (DESIGN.md rule 1), both correct in a cluster:
//  - the webhook-event entity, keyed by webhook_event_key(event id): counts
//    deliveries, queues concurrent ones behind the first and answers them
//    `duplicate` after its outcome, and holds the dedupe record;
//  - the user's actor: applies a top-up at most once per payment object. It
//    asks the store whether the object was paid, and commits the ledger
//    entry, the balance, the payment_row (primary key: the object) and the
//    event's `processed` record in ONE transaction. So a crash can never
//    leave a top-up without its dedupe records, and the primary key refuses
//    a second top-up of one object even from a deposed node.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <optional>
#include <string_view>
#include <vector>

#include "protocols/credits.hpp"
#include "protocols/fields.hpp"
#include "protocols/uuid.hpp"

namespace tally {

/// Payment webhook settings (API.md defaults; app/settings.cpp names them).
struct webhook_config {
  /// TALLY_WEBHOOK_SECRET; empty = the endpoint answers 503.
  std::string secret;
  /// |now - t| accepted for a signature, both directions.
  std::chrono::seconds tolerance{300};
  /// Event dedupe records are kept this long (by first_seen_at), then swept.
  std::chrono::seconds retention{std::chrono::hours(24 * 7)};
  /// How often the writer deletes expired dedupe records.
  std::chrono::milliseconds sweep_interval{std::chrono::seconds(60)};
  /// Deliveries of one event waiting behind its first (they answer after
  /// its outcome); beyond it 503 OVERLOADED: a provider retries far fewer.
  size_t waiting_deliveries_max = 256;
};

/// Event types that top up (API.md); every other type is ignored.
bool is_topup_event(std::string_view type);

/// Event and payment-object ids (the provider's strings) longer than this
/// are refused (Stripe's are < 100 characters).
inline constexpr size_t webhook_id_chars_max = 255;
/// data.object.metadata.credits: an integer string in 1..this (API.md).
inline constexpr int64_t webhook_credits_max = 1'000'000'000;

/// The webhook-event entity's key: a name-based (v5) UUID of the event id,
/// so every node routes one event id to one entity.
uuid webhook_event_key(std::string_view event_id);

/// The payment object's key (payment_row.id): a v5 UUID of data.object.id.
uuid payment_object_key(std::string_view object_id);

/// Where an event stands (the admin view's `status`).
enum class webhook_status : uint8_t {
  processing,  ///< the first delivery's top-up is in flight (memory only)
  processed,   ///< this event topped up (committed with the top-up)
  duplicate,   ///< its payment object was already topped up by another event
  ignored,     ///< not a top-up event type
  rejected,    ///< 422: missing or invalid metadata, or an unknown user
};

std::string_view to_string(webhook_status status);
std::optional<webhook_status> parse_webhook_status(std::string_view text);

/// One field that made an event unusable (422 `errors`).
struct webhook_problem {
  std::string field;
  std::string message;
};

/// A delivery whose signature verified, as http/ read it.
struct webhook_delivery {
  std::string event_id;
  std::string type;
  std::string object_id;
  /// Parsed metadata; meaningful only when `problems` is empty.
  uuid user{};
  int64_t credits = 0;
  /// Why the metadata cannot top up (only matters for a top-up type).
  std::vector<webhook_problem> problems;
  timestamp_us received_at = 0;
};

/// The answer to one delivery.
struct webhook_outcome {
  /// processed, duplicate, ignored, or rejected (422 with `problems`).
  webhook_status status = webhook_status::processed;
  std::vector<webhook_problem> problems;
};

/// The dedupe record of one event id, upserted by id. The stores merge an
/// upsert monotonically (deliveries and timestamps never go back, a
/// `processed` status is never overwritten), so the writes of the event's
/// entity and of the user's top-up commit in either order.
struct webhook_event_row {
  uuid id{};                 ///< webhook_event_key(event_id)
  std::string event_id;
  std::string type;
  webhook_status status = webhook_status::processed;
  int64_t deliveries = 0;
  timestamp_us first_seen_at = 0;
  timestamp_us processed_at = 0;  ///< 0 = not processed
};

/// A payment object that topped up: inserted once, in the top-up's
/// transaction; a second insert for one object fails the commit.
struct payment_row {
  uuid id{};                 ///< payment_object_key(object_id)
  std::string object_id;
  uuid user_id{};
  int64_t credits = 0;
  std::string event_id;      ///< the event that topped it up
  timestamp_us created_at = 0;
};

/// GET /v1/admin/webhooks/payments/{event_id}; `found` false = 404.
struct webhook_event_view {
  bool found = false;
  webhook_event_row row;
};

/// The user actor's answer to a top-up.
struct topup_result {
  /// False: the object was topped up before (by `by_event`), nothing changed.
  bool applied = false;
  std::string by_event;
  balance after;
  /// When the top-up committed (applied only).
  timestamp_us processed_at = 0;
};

TALLY_FIELDS(webhook_problem, x.field, x.message)
TALLY_FIELDS(webhook_delivery, x.event_id, x.type, x.object_id, x.user, x.credits, x.problems,
             x.received_at)
TALLY_FIELDS(webhook_outcome, x.status, x.problems)
TALLY_FIELDS(webhook_event_row, x.id, x.event_id, x.type, x.status, x.deliveries, x.first_seen_at,
             x.processed_at)
TALLY_FIELDS(payment_row, x.id, x.object_id, x.user_id, x.credits, x.event_id, x.created_at)
TALLY_FIELDS(webhook_event_view, x.found, x.row)
TALLY_FIELDS(topup_result, x.applied, x.by_event, x.after, x.processed_at)

} // namespace tally
