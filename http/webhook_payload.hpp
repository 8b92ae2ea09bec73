#pragma once
// What a verified payment event says, read from its JSON (API.md "Payment
// webhooks"). Pure: no I/O, unit-tested in tests/http/webhook_payload_test.
// An event without a usable `id` or `type` cannot be recorded at all (422
// here); a top-up event whose object or metadata is unusable is recorded
// as rejected by its entity, so its problems travel in the delivery.
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "http/problem.hpp"
#include "protocols/webhook.hpp"

namespace tally {

struct webhook_payload {
  /// Non-empty: the event itself is unusable (422, nothing recorded).
  std::vector<field_error> errors;
  webhook_delivery delivery;
};

/// Reads `event` (a JSON object). For a top-up type, data.object.id must be
/// a string of 1..webhook_id_chars_max characters, metadata.user_id a UUID
/// string and metadata.credits an integer string 1..webhook_credits_max;
/// each failure is one of delivery.problems.
webhook_payload read_webhook_payload(const nlohmann::json& event, timestamp_us received_at);

} // namespace tally
