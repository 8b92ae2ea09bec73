#pragma once
// The layout of the secrets a client presents, so that the gateway can route
// each one to the actor that owns it without a store read (see auth.hpp):
//
//   magic-link token = base64url(identity id (16 B) || 32 CSPRNG bytes)   (64 chars)
//   refresh token    = base64url(user id (16 B) || session id (16 B) || 32 CSPRNG bytes)  (86 chars)
//
// The ids in front are not secret; the 256 random bits are. Only
// sha256_hex(whole token) is ever stored.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/auth.hpp"
#include "protocols/uuid.hpp"

namespace tally {

/// Random bytes in every token (API.md: >= 256 bits).
inline constexpr size_t token_random_bytes = 32;

/// The identity's actor key: UUIDv5 (SHA-1 name-based, RFC 4122 §4.3) of
/// "email:<normalised email>" or "phone:<E.164>" in a fixed Tally namespace,
/// so the same identity always has the same id on every node.
uuid identity_id(identity_kind kind, std::string_view normalised_value);

/// A fresh magic-link token for `identity`.
std::string make_magic_token(const uuid& identity);

/// The identity a magic-link token belongs to; nullopt if it is not one of
/// ours by shape (wrong length or alphabet).
std::optional<uuid> magic_token_identity(std::string_view token);

/// Where a refresh token routes.
struct refresh_route {
  uuid user{};
  uuid session{};
};

/// A fresh refresh token for `session` of `user`.
std::string make_refresh_token(const uuid& user, const uuid& session);

/// The user and session of a refresh token; nullopt if malformed.
std::optional<refresh_route> refresh_token_route(std::string_view token);

} // namespace tally
