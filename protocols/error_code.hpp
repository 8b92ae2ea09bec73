#pragma once
// The domain's errors as values. Actors return them, the persistence layer
// translates libpqxx/SQLite failures into them, and http/ maps each to one
// HTTP status and problem+json `code` in a single table (http/problem.cpp).
#include <cstdint>
#include <string>

namespace tally {

enum class error_code : uint8_t {
  /// Not an error; the default of a fresh value.
  none = 0,
  /// Not enough available credits for a charge or debit (402).
  insufficient_credits,
  /// Same Idempotency-Key reused with another request body (422).
  idempotency_key_reused,
  /// Same Idempotency-Key while the first request is still in flight (409).
  idempotency_key_in_use,
  /// The user named by a path or token does not exist (404 / 401).
  user_not_found,
  /// A bound was hit: writer backlog, per-actor window (503 + Retry-After).
  overloaded,
  /// The store is unreachable or a commit failed for good (503 + Retry-After).
  store_unavailable,
  /// A request field failed validation (422).
  validation_failed,
  /// An unexpected fault; details go to the log, never to the client (500).
  internal,
  /// The service is shutting down and takes no new work (503).
  shutting_down,
  /// No usable access token (401).
  unauthenticated,
  /// A magic-link or refresh token that is unknown, malformed or used (401).
  invalid_token,
  /// A magic-link token older than its lifetime (401).
  token_expired,
  /// A wrong phone code (401).
  invalid_code,
  /// The code was burnt by too many failures; request a new one (401).
  code_locked,
  /// The phone code is older than its lifetime (401).
  code_expired,
  /// A rotated-out refresh token after the grace window; the session is revoked (401).
  refresh_token_reused,
  /// The session is revoked, expired or unknown (401).
  session_revoked,
  /// A rate limit or a code back-off (429 + Retry-After).
  rate_limited,
  /// No generation with this id belongs to the caller (404).
  generation_not_found,
  /// The resource is not in a state that allows this (409), e.g. cancelling a finished generation.
  invalid_state,
  /// The caller already has the most pending/processing generations allowed (429).
  max_active_generations,
  /// The provider's circuit breaker is open; nothing was reserved (503 + Retry-After).
  provider_unavailable,
  /// The caller is not a member of the tenant, or its role may not do this (403).
  forbidden,
  /// No tenant with this id (404).
  tenant_not_found,
  /// The user is already a member of the tenant (409).
  already_member,
  /// The tenant already has an active module (409).
  module_already_active,
  /// Another tenant holds the subdomain (409).
  subdomain_taken,
  /// Cluster: this node does not serve the entity's shard (421 on the
  /// internal port; the sender refreshes its map and retries once).
  not_shard_owner,
  /// Cluster: the shard's owner is unknown, unreachable or handing the shard
  /// over (503 + Retry-After; the client retries with its idempotency key).
  shard_unavailable,
};

/// Stable snake_case name, for logs and CAF's error rendering.
std::string to_string(error_code code);

} // namespace tally
