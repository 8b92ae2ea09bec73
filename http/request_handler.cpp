#include "http/request_handler.hpp"

#include "http/client_ip.hpp"
#include "http/header_checks.hpp"
#include "http/idempotency_key.hpp"
#include "http/json_body.hpp"
#include "http/query_string.hpp"
#include "http/request_id.hpp"
#include "http/routes.hpp"
#include "protocols/log.hpp"

namespace tally {

namespace {

constexpr std::string_view request_id_header = "X-Request-ID";
constexpr std::string_view idempotency_key_header = "Idempotency-Key";
constexpr std::string_view forwarded_for_header = "X-Forwarded-For";

/// The methods of RFC 9110 §9 and PATCH (RFC 5789): known, so a path that
/// does not serve one answers 405 with Allow. Anything else (WebDAV,
/// unregistered tokens) is 501.
bool is_known_method(http::verb method) {
  switch (method) {
    case http::verb::get:
    case http::verb::head:
    case http::verb::post:
    case http::verb::put:
    case http::verb::delete_:
    case http::verb::connect:
    case http::verb::options:
    case http::verb::trace:
    case http::verb::patch:
      return true;
    default:
      return false;
  }
}

std::vector<std::string> route_labels(const router& table) {
  std::vector<std::string> labels;
  for (const auto& r : table.routes()) labels.push_back(r.pattern);
  return labels;
}

} // namespace

request_handler::request_handler(const http_config& config, gateway& gate, metrics& registry)
  : config_(config),
    gateway_(gate),
    registry_(registry),
    router_(make_api_router()),
    jwt_(config),
    admin_(config.admin_token),
    cors_(config.cors_origins),
    route_metrics_(registry, route_labels(router_)),
    web_(config.web_dir.empty() ? web_assets{} : web_assets::load(config.web_dir)) {}

std::shared_ptr<request_context> request_handler::handle(http_request request, response_sink sink,
                                                         std::string_view peer_ip) {
  auto context = std::make_shared<request_context>(shared_from_this(), std::move(request),
                                                    std::move(sink));
  context->guarded([&] { run_pipeline(context, peer_ip); });
  return context;
}

void request_handler::run_pipeline(const std::shared_ptr<request_context>& context,
                                   std::string_view peer_ip) {
  auto& ctx = *context;
  const auto& req = ctx.request;
  ctx.request_id = choose_request_id(req[request_id_header]);
  ctx.client_ip = client_ip_of(peer_ip, req[forwarded_for_header],
                               config_.trust_forwarded_for);
  if (auto origin = req[http::field::origin]; cors_.allows(origin)) ctx.cors_origin = origin;

  // 0. Header fields a proxy and we could read differently (Host, or a
  // credential, media type or key sent twice): refused, never resolved.
  if (auto refusal = ambiguous_header(req)) {
    ctx.answer_problem(refusal->code, refusal->detail);
    return;
  }
  // A method this server does not know at all is 501 on any path (RFC 9110
  // §9.1); a known one the path does not allow stays 405.
  if (!is_known_method(req.method())) {
    ctx.answer_problem(problem_code::not_implemented,
                       "The method " + std::string(req.method_string()) + " is not implemented");
    return;
  }

  // 1. Route.
  auto target = split_request_target(req.target());
  ctx.query = target.query;
  ctx.match = router_.match(req.method(), target.path);
  if (!ctx.match.matched) {
    ctx.answer_problem(problem_code::not_found, "No resource at this path");
    return;
  }
  // 2. OPTIONS: CORS preflight on any known path.
  if (req.method() == http::verb::options && !ctx.match.target) {
    answer_options(ctx);
    return;
  }
  if (!ctx.match.target) {
    ctx.answer_problem(problem_code::method_not_allowed,
                       "Allowed methods: " + ctx.match.matched->allow);
    return;
  }
  const auto& endpoint = *ctx.match.target;

  // 3. Auth.
  if (!authenticate(ctx)) {
    ctx.answer_problem(problem_code::unauthenticated,
                       endpoint.auth == auth_kind::admin
                         ? "A valid admin token is required"
                         : "A valid access token is required");
    return;
  }

  // 4. Path ids.
  if (auto user_id = ctx.match.param("user_id"); !user_id.empty()) {
    ctx.path_user = parse_uuid(user_id);
    if (!ctx.path_user) {
      ctx.answer_problem(problem_code::invalid_id, "user_id must be a UUID");
      return;
    }
  }

  if (auto tenant_id = ctx.match.param("tenant_id"); !tenant_id.empty()) {
    ctx.path_tenant = parse_uuid(tenant_id);
    if (!ctx.path_tenant) {
      ctx.answer_problem(problem_code::invalid_id, "tenant_id must be a UUID");
      return;
    }
  }

  if (endpoint.body == body_kind::json) {
    // 5. Content-Type.
    if (!is_json_content_type(req[http::field::content_type])) {
      ctx.answer_problem(problem_code::unsupported_media_type);
      return;
    }
    // 6. JSON.
    auto parsed = parse_json(req.body());
    switch (parsed.error) {
      case json_body_error::none: break;
      case json_body_error::malformed:
        ctx.answer_problem(problem_code::malformed_json);
        return;
      case json_body_error::duplicate_key:
        ctx.answer_problem(problem_code::malformed_json,
                           "The key \"" + parsed.field + "\" appears twice in one object");
        return;
      case json_body_error::number_out_of_range:
        ctx.answer_problem(problem_code::validation_failed, {},
                           {{parsed.field, "is a number out of range"}});
        return;
    }
    if (!parsed.value.is_object()) {
      ctx.answer_problem(problem_code::validation_failed, {},
                         {{"body", "must be a JSON object"}});
      return;
    }
    ctx.body = std::move(parsed.value);
  }

  // 7. Idempotency-Key.
  if (endpoint.idempotency == idempotency_kind::required) {
    auto field = req.find(idempotency_key_header);
    auto key = parse_idempotency_key(field != req.end(),
                                     field != req.end() ? field->value() : std::string_view{});
    if (key.status == idempotency_key_status::missing) {
      ctx.answer_problem(problem_code::idempotency_key_required);
      return;
    }
    if (key.status == idempotency_key_status::invalid) {
      ctx.answer_problem(problem_code::invalid_idempotency_key);
      return;
    }
    ctx.idempotency_key = std::move(key.key);
  }

  // 8. The endpoint: validation, then the gateway.
  endpoint.handler(context);
}

bool request_handler::authenticate(request_context& ctx) {
  auto auth = ctx.match.target->auth;
  if (auth == auth_kind::none) return true;
  auto credentials = bearer_credentials(ctx.request[http::field::authorization]);
  if (!credentials) return false;
  if (auth == auth_kind::admin) return admin_.matches(*credentials);
  auto claims = jwt_.verify(*credentials);
  if (!claims) return false;
  // A token without a session (no sid, or not a UUID) cannot be revoked by
  // a logout, so it is not accepted at all.
  ctx.caller = caller_of(*claims);
  return ctx.caller.has_value();
}

void request_handler::answer_options(request_context& ctx) {
  http_response response{http::status::no_content, 11};
  const auto& methods = ctx.match.matched->methods;
  response.set(http::field::allow, ctx.match.matched->allow);
  if (!ctx.cors_origin.empty()) {
    response.set(http::field::access_control_allow_origin, ctx.cors_origin);
    response.set(http::field::vary, "Origin");
    response.set(http::field::access_control_allow_methods, methods);
    response.set(http::field::access_control_allow_headers, cors_allow_headers);
    response.set(http::field::access_control_max_age, cors_max_age_s);
  }
  ctx.answer(std::move(response));
}

http_response request_handler::reject_unreadable(problem_code code, const http_request* partial,
                                                std::string_view detail) {
  // A context like any other so the answer is counted, logged and carries a
  // request id; nothing is routed to an endpoint.
  http_response result;
  auto context = std::make_shared<request_context>(
    shared_from_this(), http_request{}, [&result](http_response response) { result = std::move(response); });
  auto& ctx = *context;
  std::string_view offered_id;
  if (partial) {
    offered_id = (*partial)[request_id_header];
    // By its text: Beast throws when told to set the verb `unknown`, which a
    // method outside its table is (found by fuzz_request: "FOO" with a
    // framing refusal or a body over the limit aborted the process).
    ctx.request.method_string(partial->method_string());
    ctx.request.target(partial->target());
    ctx.match = router_.match(partial->method(), split_request_target(ctx.request.target()).path);
    if (auto origin = (*partial)[http::field::origin]; cors_.allows(origin)) {
      ctx.request.set(http::field::origin, origin);
      ctx.cors_origin = ctx.request[http::field::origin];
    }
  }
  ctx.request_id = choose_request_id(offered_id);
  ctx.answer_problem(code, detail);
  return result;
}

void request_handler::finish(request_context& ctx, http_response& response) {
  response.set(request_id_header, ctx.request_id);
  if (!ctx.cors_origin.empty() &&
      response.find(http::field::access_control_allow_origin) == response.end()) {
    response.set(http::field::access_control_allow_origin, ctx.cors_origin);
    response.set(http::field::vary, "Origin");
    response.set(http::field::access_control_expose_headers, cors_expose_headers);
  }
  auto route_index = ctx.match.matched ? ctx.match.matched->index : route_metrics_.unmatched_index();
  auto elapsed = std::chrono::steady_clock::now() - ctx.started;
  double seconds = std::chrono::duration<double>(elapsed).count();
  auto status = response.result_int();
  route_metrics_.record(route_index, status, seconds);

  if (config_.access_log && log_enabled(log_level::info)) {
    std::string_view route = ctx.match.matched ? std::string_view(ctx.match.matched->pattern)
                                               : std::string_view("unmatched");
    // An unreadable request may have no method at all.
    auto method = ctx.request.method_string().empty() ? std::string_view("-")
                                                      : ctx.request.method_string();
    double latency_ms = seconds * 1000.0;
    const auto* user = ctx.caller ? &ctx.caller->user : ctx.path_user ? &*ctx.path_user : nullptr;
    if (user) {
      auto user_id = to_string(*user);
      log_event(log_level::info, "request",
                {{"request_id", std::string_view(ctx.request_id)},
                 {"route", route},
                 {"method", method},
                 {"status", static_cast<int64_t>(status)},
                 {"latency_ms", latency_ms},
                 {"user_id", std::string_view(user_id)}});
    } else {
      log_event(log_level::info, "request",
                {{"request_id", std::string_view(ctx.request_id)},
                 {"route", route},
                 {"method", method},
                 {"status", static_cast<int64_t>(status)},
                 {"latency_ms", latency_ms}});
    }
  }
}

} // namespace tally
