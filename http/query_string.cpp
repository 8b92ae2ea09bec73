#include "http/query_string.hpp"

#include "http/field_value.hpp"
#include "protocols/hex.hpp"

namespace tally {

namespace {

std::string percent_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      int hi = i + 1 < text.size() ? hex_digit_value(text[i + 1]) : -1;
      int lo = i + 2 < text.size() ? hex_digit_value(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        out += '\0';
      } else {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
      }
    } else {
      out += c;
    }
  }
  return out;
}

} // namespace

split_target split_request_target(std::string_view target) {
  // Absolute form (RFC 9112 §3.2.2, what a client sends a proxy): the path
  // starts after the authority; an empty path is "/".
  for (std::string_view scheme : {"http://", "https://"}) {
    if (!ascii_iequals(target.substr(0, scheme.size()), scheme))
      continue;
    auto rest = target.substr(scheme.size());
    auto path_start = rest.find_first_of("/?");
    target = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
    if (target.empty() || target.front() == '?') {
      auto query = target.empty() ? std::string_view{} : target.substr(1);
      return {"/", query};
    }
    break;
  }
  auto question = target.find('?');
  if (question == std::string_view::npos) return {target, {}};
  return {target.substr(0, question), target.substr(question + 1)};
}

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  size_t start = 0;
  while (start <= query.size()) {
    auto amp = query.find('&', start);
    auto pair = query.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    auto equals = pair.find('=');
    auto key = pair.substr(0, equals);
    if (key == name)
      return percent_decode(equals == std::string_view::npos ? std::string_view{} : pair.substr(equals + 1));
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
  return std::nullopt;
}

} // namespace tally
