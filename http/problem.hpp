#pragma once
// Every error a client can see, in ONE table (problem.cpp): HTTP status,
// stable `code`, and title. The body is RFC 9457 problem+json:
//   {"type":"/problems/<kebab-code>","title","status","code","detail","request_id"}
// plus "errors" for 422 VALIDATION_FAILED. Domain error_codes map onto this
// table in one function, so a new error_code fails to compile until mapped.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/error_code.hpp"

namespace tally {

/// What went wrong, as the HTTP API names it.
enum class problem_code : uint8_t {
  /// 400: the bytes were not a valid HTTP/1.1 request.
  bad_request,
  /// 400: a path id is not a UUID.
  invalid_id,
  /// 400: the body is not valid JSON.
  malformed_json,
  /// 400: a required Idempotency-Key header is missing.
  idempotency_key_required,
  /// 400: the Idempotency-Key is empty, too long or not printable.
  invalid_idempotency_key,
  /// 401: missing, invalid or expired credentials.
  unauthenticated,
  /// 401: a magic-link or refresh token that is empty, unknown, malformed or used.
  invalid_token,
  /// 401: a magic-link token past its lifetime.
  token_expired,
  /// 401: a wrong phone code.
  invalid_code,
  /// 401: the phone code was burnt by too many failures; request a new one.
  code_locked,
  /// 401: the phone code is past its lifetime.
  code_expired,
  /// 401: a rotated-out refresh token after the grace window; the session is revoked.
  refresh_token_reused,
  /// 401: the session is revoked, expired or unknown.
  session_revoked,
  /// 402: not enough available credits.
  insufficient_credits,
  /// 404: no route for this path.
  not_found,
  /// 404: the user named in the path does not exist.
  user_not_found,
  /// 405: the path exists, the method does not (with Allow).
  method_not_allowed,
  /// 409: the same Idempotency-Key is still being processed.
  idempotency_key_in_use,
  /// 413: the body is larger than body_bytes_max.
  payload_too_large,
  /// 415: a body without Content-Type: application/json.
  unsupported_media_type,
  /// 422: one or more fields failed validation (with "errors").
  validation_failed,
  /// 422: the same Idempotency-Key with another request.
  idempotency_key_reused,
  /// 429: a rate limit or a code back-off; retry after Retry-After.
  rate_limited,
  /// 431: request line and headers exceed header_bytes_max.
  headers_too_large,
  /// 500: an unexpected fault; details only in the log.
  internal,
  /// 501: a request method or transfer coding this server does not implement.
  not_implemented,
  /// 503: a bound was hit; retry later (Retry-After).
  overloaded,
  /// 503: the store is unreachable or slow; retry later (Retry-After).
  store_unavailable,
  /// 409: the resource's state does not allow this (a finished generation).
  invalid_state,
  /// 429: the caller has the most active generations allowed.
  max_active_generations,
  /// 503: the generation provider's circuit is open; retry later (Retry-After).
  provider_unavailable,
  /// 403: the caller is not a member of the tenant, or its role may not do this.
  forbidden,
  /// 409: the user is already a member of the tenant.
  already_member,
  /// 409: the tenant already has an active module.
  module_already_active,
  /// 409: another tenant holds the subdomain.
  subdomain_taken,
  /// 400: a payment webhook's Stripe-Signature is missing, malformed, stale or wrong.
  invalid_signature,
  /// 503: no webhook signing secret is configured (TALLY_WEBHOOK_SECRET).
  webhooks_not_configured,
  /// 421 (internal port only): this node does not serve the entity's shard.
  misdirected,
  /// 503: the shard's owner is unknown, unreachable or handing it over.
  shard_unavailable,
};

/// Number of problem_code enumerators (for tables and tests).
inline constexpr size_t problem_code_count = static_cast<size_t>(problem_code::shard_unavailable) + 1;

/// One row of the table.
struct problem_info {
  int status = 500;
  std::string_view code;   ///< "INSUFFICIENT_CREDITS"
  std::string_view type;   ///< "/problems/insufficient-credits"
  std::string_view title;  ///< short, human, constant per code
  bool retry_after = false;  ///< whether the response carries Retry-After
};

const problem_info& describe(problem_code code);

/// The problem a domain error becomes. error_code::user_not_found maps to
/// USER_NOT_FOUND (404); /me routes turn it into UNAUTHENTICATED themselves.
/// The auth errors keep their own names (API.md "Auth"), all 401 but
/// rate_limited (429).
problem_code problem_for(error_code code);

/// One bad field of a 422.
struct field_error {
  std::string field;
  std::string message;
};

/// The problem+json body. `detail` empty = the title is used.
std::string render_problem(problem_code code, std::string_view detail, std::string_view request_id,
                           const std::vector<field_error>& errors = {});

} // namespace tally
