#pragma once
// ?limit= of the paginated lists (API.md, pagination): decimal digits only,
// 1..max.
#include <charconv>
#include <optional>
#include <string>

namespace tally {

inline std::optional<int> parse_page_limit(const std::string& text, int max) {
  int value = 0;
  const char* first = text.data();
  const char* last = first + text.size();
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc{} || end != last) return std::nullopt;
  if (value < 1 || value > max) return std::nullopt;
  return value;
}

} // namespace tally
