#pragma once
// The query string of a request target ("a=1&b=x%20y").
#include <optional>
#include <string>
#include <string_view>

namespace tally {

/// Splits a target into path and query (without the '?'). An absolute-form
/// target ("http://host/healthz?x") gives the same as its origin form
/// ("/healthz?x"); the Host field is not compared with it.
struct split_target {
  std::string_view path;
  std::string_view query;
};
split_target split_request_target(std::string_view target);

/// The percent-decoded value of the first `name=` in `query` ("+" is a
/// space); nullopt when absent. A broken escape ("%zz") decodes to a value
/// with a NUL byte, so the field's own validation rejects it.
std::optional<std::string> query_param(std::string_view query, std::string_view name);

} // namespace tally
