#pragma once
// Auth vocabulary (API.md "Auth"): identities, login tokens and codes,
// sessions with rotating refresh tokens, and the audit trail.
//
// Routing without lookups: every secret a client presents carries the key of
// the actor that owns it, so the gateway can route it without a store read:
//   magic-link token = base64url(identity id (16 bytes) || 32 random bytes)
//   refresh token    = base64url(user id (16) || session id (16) || 32 random bytes)
// Only SHA-256 hashes of the random parts' full tokens are stored.
// Identity ids are deterministic (UUIDv5 of "email:<normalised>" or
// "phone:<E.164>"), so a login request routes straight to its identity actor.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocols/credits.hpp"
#include "protocols/fields.hpp"
#include "protocols/uuid.hpp"

namespace tally {

/// Who is calling an authenticated endpoint: from a verified access token.
struct caller {
  uuid user{};
  uuid session{};
};

/// What the gateway knows about the HTTP request, for limits and the audit log.
struct request_origin {
  std::string request_id;
  std::string client_ip;
};

enum class identity_kind : uint8_t {
  email,  ///< normalised: trimmed, lower-cased
  phone,  ///< E.164: '+' and 8..15 digits
};

/// The user as API.md shows it in token pairs and /v1/auth/me.
struct user_view {
  uuid id{};
  std::string email;  ///< empty = null
  std::string phone;  ///< empty = null
  timestamp_us created_at = 0;
};

/// Result of a successful login or refresh. The access token is signed by
/// http/ (it holds the JWT secret); actors hand out the session and the
/// opaque refresh token.
struct session_grant {
  uuid session{};
  std::string refresh_token;
  user_view user;
};

/// POST /v1/auth/magic-link and /v1/auth/code answers. `debug_secret` is
/// filled only in dev mode (debug_token / debug_code).
struct login_challenge {
  int expires_in_s = 0;
  std::string debug_secret;
};

/// A tenant membership as /v1/auth/me lists it (empty until tenants exist).
struct membership_view {
  uuid tenant{};
  std::string name;
  std::string role;
};

struct me_view {
  user_view user;
  std::vector<membership_view> tenants;
};

/// A GCRA limit: at most `count` events per `period`, with a burst of `count`.
struct rate_limit {
  int64_t count = 0;
  std::chrono::milliseconds period{60'000};
};

/// Every auth limit, time-out and back-off (API.md defaults), plus the
/// secrets the actors need. Set from app/settings.
struct auth_config {
  /// Dev mode: login challenges carry debug_token / debug_code and the
  /// actors log them. Never set outside development.
  bool dev = false;
  std::chrono::seconds magic_link_ttl{900};
  std::chrono::seconds code_ttl{300};
  /// Failures that burn a code (the 5th failure -> CODE_LOCKED).
  int code_failures_max = 5;
  /// After failure n the next attempt waits code_backoff_base * 2^(n-1).
  std::chrono::milliseconds code_backoff_base{500};
  /// A rotated-out refresh token presented within this returns the current one.
  std::chrono::seconds refresh_grace{10};
  /// A session expires this long after its last refresh (sliding).
  std::chrono::seconds session_ttl{std::chrono::hours(24 * 30)};
  rate_limit magic_link_per_email{5, std::chrono::minutes(1)};
  rate_limit magic_link_per_ip{30, std::chrono::minutes(1)};
  rate_limit code_per_phone{5, std::chrono::minutes(1)};
  rate_limit refresh_per_session{5, std::chrono::minutes(1)};
  /// HMAC-SHA256 key for stored code hashes: a 6-digit code's plain SHA-256
  /// is reversed by trying all 10^6, a keyed one is not without the key.
  std::string code_pepper;
  /// The link a magic-link email carries; "{token}" is replaced.
  std::string magic_link_url = "http://localhost:8080/login?token={token}";
  /// Per-IP limiter actors (keys are spread over them by hash).
  size_t ip_limiter_shards = 4;
  /// Client IPs tracked per shard; entries whose limit has fully recovered
  /// are dropped first, and beyond this the oldest.
  size_t ip_limiter_entries_max = 100'000;
  /// Per-client-IP limits of the other anonymous auth endpoints, checked
  /// before anything is read or written (API.md gives only the magic-link
  /// one; /v1/auth/code's guards against SMS pumping).
  rate_limit magic_link_verify_per_ip{60, std::chrono::minutes(1)};
  rate_limit code_per_ip{30, std::chrono::minutes(1)};
  rate_limit code_verify_per_ip{60, std::chrono::minutes(1)};
  rate_limit refresh_per_ip{60, std::chrono::minutes(1)};
  /// Audit rows for failed anonymous login attempts, node-wide: within this
  /// every failure is written; beyond it rows are dropped and the next row
  /// written says how many were (a flood must not write one row each).
  rate_limit audit_login_failures{600, std::chrono::minutes(1)};
  /// Identities the login gate remembers as never requested (bounded).
  size_t unknown_identities_cached_max = 100'000;
};

// -- field lists (protocols/fields.hpp) ----------------------------------------------
TALLY_FIELDS(caller, x.user, x.session)
TALLY_FIELDS(request_origin, x.request_id, x.client_ip)
TALLY_FIELDS(user_view, x.id, x.email, x.phone, x.created_at)
TALLY_FIELDS(session_grant, x.session, x.refresh_token, x.user)
TALLY_FIELDS(login_challenge, x.expires_in_s, x.debug_secret)
TALLY_FIELDS(membership_view, x.tenant, x.name, x.role)
TALLY_FIELDS(me_view, x.user, x.tenants)

} // namespace tally
