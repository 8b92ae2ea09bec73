#include "http/header_checks.hpp"

#include <iterator>
#include <string_view>
#include <vector>

#include "http/field_value.hpp"

namespace tally {

namespace http = boost::beast::http;

namespace {

constexpr std::string_view chunked_coding = "chunked";

/// Every coding of every Transfer-Encoding field, in order. Empty list
/// elements are skipped (RFC 9110 §5.6.1); a coding's parameters stay part
/// of it, so `chunked;x=1` is not `chunked`.
std::vector<std::string_view> transfer_codings(const http::request_header<>& header) {
  std::vector<std::string_view> codings;
  auto fields = header.equal_range(http::field::transfer_encoding);
  for (auto field = fields.first; field != fields.second; ++field) {
    std::string_view list = field->value();
    while (true) {
      auto comma = list.find(',');
      auto coding = trim_ows(list.substr(0, comma));
      if (!coding.empty()) codings.push_back(coding);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  return codings;
}

size_t count_of(const http::request_header<>& header, std::string_view name) {
  auto fields = header.equal_range(name);
  return static_cast<size_t>(std::distance(fields.first, fields.second));
}

header_refusal refuse(std::string detail) {
  return {problem_code::bad_request, std::move(detail)};
}

} // namespace

std::optional<header_refusal> framing_refusal(const http::request_header<>& header) {
  if (header.find(http::field::transfer_encoding) == header.end()) return std::nullopt;
  if (header.find(http::field::content_length) != header.end())
    return refuse("Transfer-Encoding and Content-Length must not both be sent");
  if (header.version() < 11)
    return refuse("Transfer-Encoding is not allowed in an HTTP/1.0 request");
  auto codings = transfer_codings(header);
  if (codings.empty()) return refuse("Transfer-Encoding names no coding");
  if (!ascii_iequals(codings.back(), chunked_coding))
    return refuse("chunked must be the final transfer coding");
  for (size_t i = 0; i + 1 < codings.size(); ++i) {
    if (ascii_iequals(codings[i], chunked_coding))
      return refuse("chunked must be applied only once");
  }
  if (codings.size() > 1)
    return header_refusal{problem_code::not_implemented,
                          "The transfer coding " + std::string(codings.front()) +
                            " is not implemented; only chunked is"};
  return std::nullopt;
}

std::optional<header_refusal> ambiguous_header(const http::request_header<>& header) {
  auto hosts = count_of(header, "Host");
  if (hosts > 1) return refuse("Host must be sent once");
  if (hosts == 0 && header.version() >= 11)
    return refuse("Host is required in an HTTP/1.1 request");
  for (std::string_view name : {"Authorization", "Content-Type", "Idempotency-Key"}) {
    if (count_of(header, name) > 1) return refuse(std::string(name) + " must be sent at most once");
  }
  return std::nullopt;
}

} // namespace tally
