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
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocols/credits.hpp"
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

} // namespace tally
