#include "protocols/webhook.hpp"

#include <boost/uuid/name_generator_sha1.hpp>

namespace tally {

namespace {

/// Tally's UUIDv5 namespaces for webhook keys (fixed random UUIDs: changing
/// one would re-key every stored record).
const uuid event_namespace = *parse_uuid("0b7f6a52-94c3-4e3b-a1d8-5c2e9f04b7d1");
const uuid payment_namespace = *parse_uuid("d4e8c1a7-2f6b-4a90-8e35-71b0c9d2f6e3");

} // namespace

bool is_topup_event(std::string_view type) {
  return type == "checkout.session.completed" || type == "payment_intent.succeeded";
}

uuid webhook_event_key(std::string_view event_id) {
  boost::uuids::name_generator_sha1 generate(event_namespace);
  return generate(event_id.data(), event_id.size());
}

uuid payment_object_key(std::string_view object_id) {
  boost::uuids::name_generator_sha1 generate(payment_namespace);
  return generate(object_id.data(), object_id.size());
}

std::string_view to_string(webhook_status status) {
  switch (status) {
    case webhook_status::processing: return "processing";
    case webhook_status::processed: return "processed";
    case webhook_status::duplicate: return "duplicate";
    case webhook_status::ignored: return "ignored";
    case webhook_status::rejected: return "rejected";
  }
  return "unknown";
}

std::optional<webhook_status> parse_webhook_status(std::string_view text) {
  for (auto status : {webhook_status::processing, webhook_status::processed,
                      webhook_status::duplicate, webhook_status::ignored, webhook_status::rejected})
    if (to_string(status) == text) return status;
  return std::nullopt;
}

} // namespace tally
