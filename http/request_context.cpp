#include "http/request_context.hpp"

#include "http/request_handler.hpp"
#include "protocols/log.hpp"

namespace tally {

namespace {

constexpr std::string_view problem_content_type = "application/problem+json";
constexpr std::string_view json_content_type = "application/json";
/// RFC 6750 challenge; API.md asks for error="invalid_token" on every 401
/// of a bearer-authenticated endpoint.
constexpr std::string_view bearer_challenge = "Bearer error=\"invalid_token\"";

/// Whether a 401 answers a bearer token (RFC 6750 §3 challenge). A 401 from
/// /v1/auth/refresh or a login verify judges a token sent in the body:
/// no Authorization scheme to challenge.
bool is_bearer_challenge(problem_code code, const route_match& match) {
  if (describe(code).status != 401) return false;
  if (code == problem_code::unauthenticated) return true;
  return match.target && match.target->auth != auth_kind::none;
}

} // namespace

request_context::request_context(std::shared_ptr<request_handler> owner, http_request message,
                                 response_sink sink)
  : handler(*owner),
    request(std::move(message)),
    started(std::chrono::steady_clock::now()),
    owner_(std::move(owner)),
    sink_(std::move(sink)) {}

void request_context::answer(http_response response) {
  if (answered_.exchange(true, std::memory_order_acq_rel)) return;
  handler.finish(*this, response);
  // Moved out so whatever the sink holds is released with this call.
  auto sink = std::move(sink_);
  sink(std::move(response));
}

void request_context::answer_json(http::status status, std::string body, bool replayed) {
  http_response response{status, 11};
  response.set(http::field::content_type, json_content_type);
  if (replayed) response.set("Idempotent-Replayed", "true");
  response.body() = std::move(body);
  answer(std::move(response));
}

void request_context::answer_empty(http::status status) {
  http_response response{status, 11};
  answer(std::move(response));
}

void request_context::answer_problem(problem_code code, std::string_view detail,
                                     const std::vector<field_error>& errors, int retry_after_s) {
  if (answered()) return;
  const auto& info = describe(code);
  http_response response{static_cast<http::status>(info.status), 11};
  response.set(http::field::content_type, problem_content_type);
  if (is_bearer_challenge(code, match)) response.set(http::field::www_authenticate, bearer_challenge);
  if (info.retry_after) {
    int seconds = retry_after_s > 0 ? retry_after_s : handler.config().retry_after_s;
    response.set(http::field::retry_after, std::to_string(seconds < 1 ? 1 : seconds));
  }
  if (code == problem_code::method_not_allowed && match.matched)
    response.set(http::field::allow, match.matched->allow);
  response.body() = render_problem(code, detail, request_id, errors);
  answer(std::move(response));
}

void request_context::answer_failure(const failure& why) {
  auto code = problem_for(why.code);
  if (code == problem_code::internal) {
    // The detail may name internals: log it, show only the request id.
    log_event(log_level::error, "request failed",
              {{"request_id", std::string_view(request_id)},
               {"error", std::string_view(why.detail)}});
    answer_problem(code, {}, {}, 0);
    return;
  }
  answer_problem(code, why.detail, {}, why.retry_after_s);
}

void request_context::expire() {
  if (answered()) return;
  answer_problem(problem_code::store_unavailable, "The request did not complete in time");
}

void request_context::answer_exception(const char* what) {
  log_event(log_level::error, "unexpected exception in a request handler",
            {{"request_id", std::string_view(request_id)}, {"error", std::string_view(what)}});
  answer_problem(problem_code::internal);
}

} // namespace tally
