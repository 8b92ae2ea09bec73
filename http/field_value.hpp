#pragma once
// Header field values (RFC 9110 §5.5, §5.6): the optional whitespace around
// a value or around one element of a comma-separated list, and ASCII
// case-insensitive comparison (tokens, schemes, media types).
#include <string_view>

namespace tally {

/// `text` without leading and trailing spaces and tabs (RFC 9110 OWS).
inline std::string_view trim_ows(std::string_view text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

/// Whether `a` and `b` are equal ignoring ASCII case. Instead of Beast
/// 1.74's iequals, which reads one byte past the end when the two differ in
/// case (found by fuzz_query_string under ASan).
inline bool ascii_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

} // namespace tally
