#pragma once
// Request bodies (API.md, Conventions): Content-Type must be
// application/json (parameters such as charset allowed) else 415; the bytes
// must parse as JSON, with no key twice in one object, else 400
// MALFORMED_JSON (a number too large for a double is 422 naming its field);
// the document must be an object and its fields are validated, collecting
// EVERY bad field for one 422.
// Integers must be JSON integers: not 5.0, not "5", not true.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "http/problem.hpp"

namespace tally {

using json = nlohmann::json;

/// "application/json", optionally followed by ";" parameters; case- and
/// whitespace-insensitive. "application/jsonx" or "text/json" are not.
bool is_json_content_type(std::string_view content_type);

/// Why a body is not a usable JSON document.
enum class json_body_error : uint8_t {
  /// `value` holds the document.
  none,
  /// Not exactly one JSON value in valid UTF-8 (trailing bytes, NUL,
  /// truncation): 400 MALFORMED_JSON.
  malformed,
  /// One object names a key twice (compared after unescaping): 400
  /// MALFORMED_JSON. Taking either value would guess what the client meant,
  /// and a proxy may have guessed the other way.
  duplicate_key,
  /// Valid syntax, but a number no double can hold (`1e400`, 5 000 digits):
  /// 422 VALIDATION_FAILED naming `field`.
  number_out_of_range,
};

/// The outcome of parse_json.
struct parsed_json {
  json value;  ///< the document when `error` is none, else discarded
  json_body_error error = json_body_error::none;
  /// duplicate_key: the key. number_out_of_range: where the number is, as
  /// `amount`, `meta.n[2]`, or `body` for a bare number.
  std::string field;
};

/// Parses a request body once, refusing duplicate keys on the way (each
/// object's own map says whether it holds a key already). Only a failed
/// parse is looked at a second time, to tell an out-of-range number from bad
/// syntax.
parsed_json parse_json(std::string_view body);

/// Length in Unicode code points of valid UTF-8 text.
size_t utf8_length(std::string_view text);

/// Reads fields of a JSON object and records what is wrong with each.
class field_validator {
public:
  explicit field_validator(const json& object) : object_(object) {}

  /// A JSON integer in [min, max]; nullopt (and an error) otherwise, or
  /// nullopt without error when the field is absent and not required.
  std::optional<int64_t> integer(const char* field, int64_t min, int64_t max, bool required);

  /// A string of `min_chars`..`max_chars` code points.
  std::optional<std::string> text(const char* field, size_t min_chars, size_t max_chars,
                                  bool required);

  void fail(std::string field, std::string message);

  bool ok() const { return errors_.empty(); }
  const std::vector<field_error>& errors() const { return errors_; }

private:
  const json& object_;
  std::vector<field_error> errors_;
};

} // namespace tally
