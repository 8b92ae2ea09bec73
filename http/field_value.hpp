#pragma once
// Header field values (RFC 9110 §5.5, §5.6): the optional whitespace around
// a value or around one element of a comma-separated list.
#include <string_view>

namespace tally {

/// `text` without leading and trailing spaces and tabs (RFC 9110 OWS).
inline std::string_view trim_ows(std::string_view text) {
  auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  auto last = text.find_last_not_of(" \t");
  return text.substr(first, last - first + 1);
}

} // namespace tally
