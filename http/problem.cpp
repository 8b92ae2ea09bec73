#include "http/problem.hpp"

#include <array>

#include "protocols/json_writer.hpp"

namespace tally {

namespace {

// The one table. Order = problem_code order (checked by the static_assert
// and the unit test that walks every code).
constexpr std::array<problem_info, problem_code_count> problem_table{{
  {400, "BAD_REQUEST", "/problems/bad-request", "The request is not valid HTTP", false},
  {400, "INVALID_ID", "/problems/invalid-id", "A path id is not a UUID", false},
  {400, "MALFORMED_JSON", "/problems/malformed-json", "The body is not valid JSON", false},
  {400, "IDEMPOTENCY_KEY_REQUIRED", "/problems/idempotency-key-required",
   "This endpoint requires an Idempotency-Key header", false},
  {400, "INVALID_IDEMPOTENCY_KEY", "/problems/invalid-idempotency-key",
   "The Idempotency-Key must be 1-255 printable characters", false},
  {401, "UNAUTHENTICATED", "/problems/unauthenticated", "Authentication is required", false},
  {401, "INVALID_TOKEN", "/problems/invalid-token", "The token is invalid or already used", false},
  {401, "TOKEN_EXPIRED", "/problems/token-expired", "The token has expired", false},
  {401, "INVALID_CODE", "/problems/invalid-code", "The code is wrong", false},
  {401, "CODE_LOCKED", "/problems/code-locked",
   "Too many wrong attempts; request a new code", false},
  {401, "CODE_EXPIRED", "/problems/code-expired", "The code has expired", false},
  {401, "REFRESH_TOKEN_REUSED", "/problems/refresh-token-reused",
   "The refresh token was already used; the session is revoked", false},
  {401, "SESSION_REVOKED", "/problems/session-revoked",
   "The session is revoked or expired; log in again", false},
  {402, "INSUFFICIENT_CREDITS", "/problems/insufficient-credits", "Not enough available credits",
   false},
  {404, "NOT_FOUND", "/problems/not-found", "No such resource", false},
  {404, "USER_NOT_FOUND", "/problems/user-not-found", "No such user", false},
  {405, "METHOD_NOT_ALLOWED", "/problems/method-not-allowed", "Method not allowed on this path",
   false},
  {409, "IDEMPOTENCY_KEY_IN_USE", "/problems/idempotency-key-in-use",
   "A request with this Idempotency-Key is still in progress", false},
  {413, "PAYLOAD_TOO_LARGE", "/problems/payload-too-large", "The body is too large", false},
  {415, "UNSUPPORTED_MEDIA_TYPE", "/problems/unsupported-media-type",
   "The body must be sent as Content-Type: application/json", false},
  {422, "VALIDATION_FAILED", "/problems/validation-failed", "Some fields are invalid", false},
  {422, "IDEMPOTENCY_KEY_REUSED", "/problems/idempotency-key-reused",
   "This Idempotency-Key was used with a different request", false},
  {429, "RATE_LIMITED", "/problems/rate-limited", "Too many requests; retry later", true},
  {431, "HEADERS_TOO_LARGE", "/problems/headers-too-large", "The request headers are too large",
   false},
  {500, "INTERNAL", "/problems/internal", "Internal error", false},
  {501, "NOT_IMPLEMENTED", "/problems/not-implemented",
   "The method or transfer coding is not implemented", false},
  {503, "OVERLOADED", "/problems/overloaded", "The service is overloaded; retry later", true},
  {503, "STORE_UNAVAILABLE", "/problems/store-unavailable",
   "The store is unavailable; retry later", true},
  {409, "INVALID_STATE", "/problems/invalid-state", "The resource's state does not allow this", false},
  {429, "MAX_ACTIVE_GENERATIONS", "/problems/max-active-generations",
   "Too many generations are pending or processing", true},
  {503, "PROVIDER_UNAVAILABLE", "/problems/provider-unavailable",
   "The generation provider is unavailable; retry later", true},
  {403, "FORBIDDEN", "/problems/forbidden", "You may not do this", false},
  {409, "ALREADY_MEMBER", "/problems/already-member", "The user is already a member", false},
  {409, "MODULE_ALREADY_ACTIVE", "/problems/module-already-active",
   "The tenant already has an active module", false},
  {409, "SUBDOMAIN_TAKEN", "/problems/subdomain-taken", "The subdomain is taken", false},
  {400, "INVALID_SIGNATURE", "/problems/invalid-signature",
   "The Stripe-Signature header does not verify", false},
  {503, "WEBHOOKS_NOT_CONFIGURED", "/problems/webhooks-not-configured",
   "Payment webhooks are not configured on this service", true},
  {421, "MISDIRECTED", "/problems/misdirected",
   "This node does not serve the entity; refresh the shard map", false},
  {503, "SHARD_UNAVAILABLE", "/problems/shard-unavailable",
   "The node serving this data is unavailable; retry later", true},
}};

static_assert(problem_table.back().code == "SHARD_UNAVAILABLE",
              "problem_table must list every problem_code in enum order");

} // namespace

const problem_info& describe(problem_code code) {
  return problem_table[static_cast<size_t>(code)];
}

problem_code problem_for(error_code code) {
  // No default: the compiler warns when an error_code is added unmapped.
  switch (code) {
    case error_code::insufficient_credits: return problem_code::insufficient_credits;
    case error_code::idempotency_key_reused: return problem_code::idempotency_key_reused;
    case error_code::idempotency_key_in_use: return problem_code::idempotency_key_in_use;
    case error_code::user_not_found: return problem_code::user_not_found;
    case error_code::overloaded: return problem_code::overloaded;
    case error_code::store_unavailable: return problem_code::store_unavailable;
    case error_code::validation_failed: return problem_code::validation_failed;
    case error_code::shutting_down: return problem_code::overloaded;
    // "none" as a failure is a bug on the other side: still never a 2xx.
    case error_code::none: return problem_code::internal;
    case error_code::internal: return problem_code::internal;
    case error_code::unauthenticated: return problem_code::unauthenticated;
    case error_code::invalid_token: return problem_code::invalid_token;
    case error_code::token_expired: return problem_code::token_expired;
    case error_code::invalid_code: return problem_code::invalid_code;
    case error_code::code_locked: return problem_code::code_locked;
    case error_code::code_expired: return problem_code::code_expired;
    case error_code::refresh_token_reused: return problem_code::refresh_token_reused;
    case error_code::session_revoked: return problem_code::session_revoked;
    case error_code::rate_limited: return problem_code::rate_limited;
    case error_code::generation_not_found: return problem_code::not_found;
    case error_code::invalid_state: return problem_code::invalid_state;
    case error_code::max_active_generations: return problem_code::max_active_generations;
    case error_code::provider_unavailable: return problem_code::provider_unavailable;
    case error_code::forbidden: return problem_code::forbidden;
    case error_code::tenant_not_found: return problem_code::not_found;
    case error_code::already_member: return problem_code::already_member;
    case error_code::module_already_active: return problem_code::module_already_active;
    case error_code::subdomain_taken: return problem_code::subdomain_taken;
    case error_code::not_shard_owner: return problem_code::misdirected;
    case error_code::shard_unavailable: return problem_code::shard_unavailable;
  }
  return problem_code::internal;
}

std::string render_problem(problem_code code, std::string_view detail, std::string_view request_id,
                           const std::vector<field_error>& errors) {
  const auto& info = describe(code);
  std::string out;
  out.reserve(192 + detail.size() + errors.size() * 64);
  json_writer json(out);
  json.begin_object();
  json.key("type").string(info.type);
  json.key("title").string(info.title);
  json.key("status").integer(info.status);
  json.key("code").string(info.code);
  json.key("detail").string(detail.empty() ? info.title : detail);
  json.key("request_id").string(request_id);
  if (code == problem_code::validation_failed) {
    json.key("errors").begin_array();
    for (const auto& error : errors) {
      json.begin_object();
      json.key("field").string(error.field);
      json.key("message").string(error.message);
      json.end_object();
    }
    json.end_array();
  }
  json.end_object();
  return out;
}

} // namespace tally
