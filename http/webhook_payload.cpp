#include "http/webhook_payload.hpp"

#include <nlohmann/json.hpp>

namespace tally {

namespace {

/// Decimal digits of the largest credits value (10^9).
constexpr size_t credits_digits_max = 10;

/// The string at `key` of `object`, if `object` is an object holding one.
const std::string* string_at(const nlohmann::json* object, const char* key) {
  if (object == nullptr || !object->is_object()) return nullptr;
  auto found = object->find(key);
  if (found == object->end() || !found->is_string()) return nullptr;
  return found->get_ptr<const std::string*>();
}

const nlohmann::json* object_at(const nlohmann::json* object, const char* key) {
  if (object == nullptr || !object->is_object()) return nullptr;
  auto found = object->find(key);
  if (found == object->end() || !found->is_object()) return nullptr;
  return &*found;
}

bool id_like(const std::string* text) {
  return text != nullptr && !text->empty() && text->size() <= webhook_id_chars_max;
}

/// "1".."1000000000": digits only (no sign, space or exponent).
std::optional<int64_t> parse_credits(const std::string& text) {
  if (text.empty() || text.size() > credits_digits_max) return std::nullopt;
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > webhook_credits_max) return std::nullopt;
  return value;
}

/// The top-up fields of a top-up event; each unusable one is a problem.
void read_topup(const nlohmann::json& event, webhook_delivery& delivery) {
  const auto* object = object_at(object_at(&event, "data"), "object");
  const auto* object_id = string_at(object, "id");
  if (id_like(object_id))
    delivery.object_id = *object_id;
  else
    delivery.problems.push_back({"data.object.id", "must be a string of 1 to 255 characters"});
  const auto* metadata = object_at(object, "metadata");
  const auto* user_id = string_at(metadata, "user_id");
  auto user = user_id ? parse_uuid(*user_id) : std::nullopt;
  if (user)
    delivery.user = *user;
  else
    delivery.problems.push_back({"data.object.metadata.user_id", "must be a user id (UUID string)"});
  const auto* credits_text = string_at(metadata, "credits");
  auto credits = credits_text ? parse_credits(*credits_text) : std::nullopt;
  if (credits)
    delivery.credits = *credits;
  else
    delivery.problems.push_back({"data.object.metadata.credits",
                                 "must be an integer string from 1 to 1000000000"});
}

} // namespace

webhook_payload read_webhook_payload(const nlohmann::json& event, timestamp_us received_at) {
  webhook_payload payload;
  auto& delivery = payload.delivery;
  delivery.received_at = received_at;
  const auto* id = string_at(&event, "id");
  if (id_like(id))
    delivery.event_id = *id;
  else
    payload.errors.push_back({"id", "must be a string of 1 to 255 characters"});
  const auto* type = string_at(&event, "type");
  if (type != nullptr && !type->empty() && type->size() <= webhook_id_chars_max)
    delivery.type = *type;
  else
    payload.errors.push_back({"type", "must be a string of 1 to 255 characters"});
  if (payload.errors.empty() && is_topup_event(delivery.type)) read_topup(event, delivery);
  return payload;
}

} // namespace tally
