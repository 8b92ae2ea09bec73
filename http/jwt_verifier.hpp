#pragma once
// Access tokens (API.md, Auth): JWT, HS256 only, with iss, aud, sub (user id),
// sid (session id), iat, exp, jti. The verifier pins the algorithm (`none`,
// HS512, RS256 ... are rejected before any key is used), checks the signature
// in constant time, requires iss, aud and exp, and applies the configured
// leeway to exp, nbf and iat.
//
// Written on OpenSSL HMAC rather than Debian's cpp-jwt 1.4: cpp-jwt compares
// signatures with operator== (timing leak), evaluates exp/nbf in unsigned
// arithmetic (negative or fractional dates wrap), only accepts a string aud,
// and reports type errors via exceptions; each would need a wrapper that
// re-checks what it does.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "http/http_config.hpp"
#include "protocols/auth.hpp"
#include "protocols/uuid.hpp"

namespace tally {

/// API.md: access tokens live 900 s (expires_in of a token pair).
inline constexpr std::chrono::seconds access_token_ttl{900};
/// Longer Authorization values are not even parsed (ours are ~300 chars).
inline constexpr size_t access_token_chars_max = 4096;
/// Verified tokens remembered to skip HMAC + JSON on repeat requests; when
/// full the cache is emptied (bounded memory, one re-verify per token).
inline constexpr size_t verified_token_cache_entries_max = 8192;

/// What a verified access token says.
struct access_claims {
  uuid user{};             ///< sub
  std::string session_id;  ///< sid (empty if absent)
  std::string jti;         ///< jti (empty if absent; generated when signing)
  int64_t exp = 0;         ///< Unix seconds
};

/// Verifies access tokens; thread-safe (the cache is locked).
class jwt_verifier {
public:
  explicit jwt_verifier(const http_config& config);

  /// The claims of a valid token at the current time, else nullopt.
  std::optional<access_claims> verify(std::string_view token) const;

  /// Same, at `now_s` (Unix seconds); for tests.
  std::optional<access_claims> verify(std::string_view token, int64_t now_s) const;

private:
  std::optional<access_claims> verify_uncached(std::string_view token, int64_t now_s) const;

  std::string secret_;
  std::string issuer_;
  std::string audience_;
  int64_t leeway_s_ = 0;

  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, access_claims> cache_;
};

/// The caller a verified token names: its user and its session. nullopt
/// when `sid` is absent or not a UUID (tokens of every login carry one; the
/// user actor checks on every call that the session is still live).
std::optional<caller> caller_of(const access_claims& claims);

/// An HS256 access token for `claims.user` / `claims.session_id`, issued now
/// and expiring after `ttl`; `claims.jti` is used when set, else a random
/// UUID. `claims.exp` is ignored (derived from ttl).
std::string sign_access_token(const access_claims& claims, const http_config& config,
                              std::chrono::seconds ttl = access_token_ttl);

} // namespace tally
