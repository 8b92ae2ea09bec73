#pragma once
// Request bodies (API.md, Conventions): Content-Type must be
// application/json (parameters such as charset allowed) else 415; the bytes
// must parse as JSON else 400 MALFORMED_JSON; the document must be an object
// and its fields are validated, collecting EVERY bad field for one 422.
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

/// The parsed document, or nullopt for anything that is not exactly one JSON
/// value in valid UTF-8 (trailing bytes, NUL, truncation).
std::optional<json> parse_json(std::string_view body);

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
