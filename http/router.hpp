#pragma once
// Routing: method + path pattern -> endpoint. Patterns are literal segments
// and "{name}" parameters ("/v1/admin/users/{user_id}/credits"); matching is
// a segment-by-segment scan of a short table (no regex on the hot path).
// A path that matches no pattern is 404; a matching path without the method
// is 405 with `Allow`. HEAD is served by the GET endpoint of a path (the
// session drops the body, RFC 9110 §9.3.2). The table itself is built in one place: routes.cpp.
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/verb.hpp>

namespace tally {

struct request_context;

/// Who may call an endpoint.
enum class auth_kind : uint8_t {
  none,   ///< public (ops endpoints)
  user,   ///< Authorization: Bearer <access token> (JWT)
  admin,  ///< Authorization: Bearer <admin token>
};

/// Whether an endpoint reads a JSON body.
enum class body_kind : uint8_t {
  none,  ///< any body is ignored
  json,  ///< Content-Type application/json, a JSON object
};

/// Whether an endpoint takes an Idempotency-Key.
enum class idempotency_kind : uint8_t {
  none,      ///< the header is ignored
  required,  ///< missing -> 400 IDEMPOTENCY_KEY_REQUIRED
};

/// One shared signature for every endpoint (pandaproxy style): the endpoint
/// answers through the context, now or later from another thread.
using endpoint_fn = void (*)(const std::shared_ptr<request_context>&);

/// One method on one route: who may call it, what it reads, who answers.
struct endpoint {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  /// verb_noun; also part of idempotency request digests, so never rename.
  std::string_view name;
  auth_kind auth = auth_kind::none;
  body_kind body = body_kind::none;
  idempotency_kind idempotency = idempotency_kind::none;
  endpoint_fn handler = nullptr;
};

/// Most "{name}" parameters one pattern may hold.
inline constexpr size_t path_params_max = 4;

/// One path pattern and the endpoints (methods) under it.
struct route {
  /// The pattern; also the `route` label of metrics and access logs.
  std::string pattern;
  /// Dense index (0..routes-1), for per-route metric tables.
  size_t index = 0;
  std::vector<std::string> segments;
  std::vector<std::string> param_names;
  std::vector<endpoint> endpoints;
  /// "GET, POST": the methods of the endpoints, for CORS.
  std::string methods;
  /// "GET, HEAD, POST, OPTIONS": what the path answers, for Allow (405 and
  /// OPTIONS) and the 405 detail. HEAD comes with every GET, OPTIONS with
  /// every path.
  std::string allow;
};

/// What router::match found for a request.
struct route_match {
  /// nullptr: no pattern matches (404).
  const route* matched = nullptr;
  /// nullptr while `matched` is set: wrong method (405, or a CORS preflight).
  const endpoint* target = nullptr;
  std::array<std::string_view, path_params_max> params{};

  /// The raw text of parameter `name` (empty if the route has none).
  std::string_view param(std::string_view name) const;
};

/// The route table: built once at start-up, then read-only (thread-safe).
class router {
public:
  /// Adds `e` under `pattern` (several methods may share one pattern).
  void add(std::string_view pattern, endpoint e);

  /// `path` is the target without the query string.
  route_match match(boost::beast::http::verb method, std::string_view path) const;

  const std::vector<route>& routes() const { return routes_; }

private:
  std::vector<route> routes_;
};

} // namespace tally
