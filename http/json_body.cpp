#include "http/json_body.hpp"

#include "http/field_value.hpp"

#include <limits>

namespace tally {

namespace {

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

} // namespace

bool is_json_content_type(std::string_view content_type) {
  constexpr std::string_view expected = "application/json";
  auto media_type = trim_ows(content_type.substr(0, content_type.find(';')));
  if (media_type.size() != expected.size()) return false;
  for (size_t i = 0; i < expected.size(); ++i)
    if (lower(media_type[i]) != expected[i]) return false;
  return true;
}

std::optional<json> parse_json(std::string_view body) {
  // No exceptions: a parse failure yields a "discarded" value. nlohmann's
  // parser is iterative (no recursion limit to hit); the body size limit
  // bounds its work.
  auto value = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return std::nullopt;
  return value;
}

size_t utf8_length(std::string_view text) {
  size_t count = 0;
  for (char c : text)
    if ((static_cast<unsigned char>(c) & 0xc0) != 0x80) ++count;
  return count;
}

std::optional<int64_t> field_validator::integer(const char* field, int64_t min, int64_t max,
                                                bool required) {
  auto it = object_.find(field);
  if (it == object_.end() || it->is_null()) {
    // An optional field sent as null counts as absent.
    if (required) fail(field, "is required");
    return std::nullopt;
  }
  auto range_message = [&] {
    return "must be an integer from " + std::to_string(min) + " to " + std::to_string(max);
  };
  if (!it->is_number_integer()) {
    fail(field, range_message());
    return std::nullopt;
  }
  // nlohmann stores every non-negative integer as unsigned; above INT64_MAX
  // it cannot be an int64 at all.
  if (it->is_number_unsigned() &&
      it->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    fail(field, range_message());
    return std::nullopt;
  }
  auto value = it->get<int64_t>();
  if (value < min || value > max) {
    fail(field, range_message());
    return std::nullopt;
  }
  return value;
}

std::optional<std::string> field_validator::text(const char* field, size_t min_chars,
                                                 size_t max_chars, bool required) {
  auto it = object_.find(field);
  if (it == object_.end() || it->is_null()) {
    // An optional field sent as null counts as absent.
    if (required) fail(field, "is required");
    return std::nullopt;
  }
  if (!it->is_string()) {
    fail(field, "must be a string");
    return std::nullopt;
  }
  const auto& value = it->get_ref<const std::string&>();
  auto length = utf8_length(value);
  if (length < min_chars || length > max_chars) {
    fail(field, "must be " + std::to_string(min_chars) + " to " + std::to_string(max_chars) +
                  " characters long");
    return std::nullopt;
  }
  return value;
}

void field_validator::fail(std::string field, std::string message) {
  errors_.push_back({std::move(field), std::move(message)});
}

} // namespace tally
