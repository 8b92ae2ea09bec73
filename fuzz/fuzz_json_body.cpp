// Request bodies: Content-Type matching, the JSON parser with its duplicate
// key and out-of-range checks, the field validators of the credit and auth
// endpoints. Properties: a parsed document is reported once per error kind
// consistently (an error names a field where it must), the validators never
// accept a value outside their bounds.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "http/auth_validation.hpp"
#include "http/json_body.hpp"

using namespace tally;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  is_json_content_type(bytes.substr(0, 64));

  auto parsed = parse_json(bytes);
  if (parsed.error == json_body_error::duplicate_key ||
      parsed.error == json_body_error::number_out_of_range)
    FUZZ_CHECK(!parsed.field.empty());
  if (parsed.error != json_body_error::none || !parsed.value.is_object()) return 0;

  field_validator fields(parsed.value);
  if (auto amount = fields.integer("amount", 1, 1'000'000'000, true))
    FUZZ_CHECK(*amount >= 1 && *amount <= 1'000'000'000);
  if (auto text = fields.text("description", 0, 500, false)) FUZZ_CHECK(utf8_length(*text) <= 500);
  for (const char* name : {"email", "phone", "code", "token"}) {
    auto value = fields.text(name, 0, 1000, false);
    if (!value) continue;
    if (auto email = normalise_email(*value)) FUZZ_CHECK(email->size() <= 254);
    if (is_e164_phone(*value)) FUZZ_CHECK(value->size() <= 16 && (*value)[0] == '+');
    if (is_login_code(*value)) FUZZ_CHECK(value->size() == login_code_digits);
  }
  // A body that parsed must parse again from its own dump.
  auto again = parse_json(parsed.value.dump());
  FUZZ_CHECK(again.error == json_body_error::none);
  FUZZ_CHECK(again.value == parsed.value);
  return 0;
}
