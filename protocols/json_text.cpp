#include "protocols/json_text.hpp"

#include <charconv>

namespace tally {

namespace {

/// Whether a byte must be written as an escape inside a JSON string.
bool needs_escape(unsigned char byte) {
  return byte < 0x20 || byte == 0x7f || byte == '"' || byte == '\\';
}

} // namespace

void append_json_string(std::string& out, std::string_view text) {
  static constexpr char hex_digits[] = "0123456789abcdef";
  out += '"';
  size_t plain_from = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    auto byte = static_cast<unsigned char>(text[i]);
    if (!needs_escape(byte)) continue;
    // Copy the run of plain bytes before this one in one append: keys and
    // most values have no escapes at all.
    out.append(text.data() + plain_from, i - plain_from);
    plain_from = i + 1;
    switch (byte) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        out += "\\u00";
        out += hex_digits[byte >> 4];
        out += hex_digits[byte & 0xf];
    }
  }
  out.append(text.data() + plain_from, text.size() - plain_from);
  out += '"';
}

void append_json_int(std::string& out, int64_t value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}

} // namespace tally
