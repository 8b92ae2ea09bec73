#include "http/ledger_cursor.hpp"

#include <charconv>

#include "protocols/base64url.hpp"

namespace tally {

std::string encode_ledger_cursor(int64_t before_seq) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, before_seq);
  return base64url_encode(std::string_view(digits, static_cast<size_t>(end - digits)));
}

std::optional<int64_t> decode_ledger_cursor(std::string_view cursor) {
  if (cursor.empty() || cursor.size() > ledger_cursor_chars_max) return std::nullopt;
  auto bytes = base64url_decode(cursor);
  if (!bytes || bytes->empty() || bytes->front() == '0') return std::nullopt;
  int64_t seq = 0;
  const char* first = bytes->data();
  const char* last = first + bytes->size();
  auto [end, ec] = std::from_chars(first, last, seq);
  if (ec != std::errc{} || end != last || seq <= 0) return std::nullopt;
  return seq;
}

} // namespace tally
