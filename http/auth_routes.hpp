#pragma once
// API.md "Auth": one free function per endpoint, all with the endpoint
// signature (router.hpp). Each validates and normalises its input (422
// listing every bad field; auth_validation.hpp says what is valid), calls
// the gateway with the request's origin (request id, client IP) and renders
// the reply (auth_views.hpp). Access tokens are signed here: http/ holds the
// JWT secret; the actors hand out sessions and opaque refresh tokens.
#include <cstddef>
#include <memory>

namespace tally {

struct request_context;

/// A presented magic-link or refresh token longer than this cannot be one
/// Tally issued (they are 64 and 86 characters): 401 INVALID_TOKEN without
/// asking the actors.
inline constexpr size_t presented_token_chars_max = 512;

/// POST /v1/auth/magic-link {"email"} -> 202 {"status","expires_in"[,"debug_token"]}.
void request_magic_link(const std::shared_ptr<request_context>& context);

/// POST /v1/auth/magic-link/verify {"token"} -> 200 token pair.
void verify_magic_link(const std::shared_ptr<request_context>& context);

/// POST /v1/auth/code {"phone"} -> 202 {"status","expires_in"[,"debug_code"]}.
void request_code(const std::shared_ptr<request_context>& context);

/// POST /v1/auth/code/verify {"phone","code"} -> 200 token pair.
void verify_code(const std::shared_ptr<request_context>& context);

/// POST /v1/auth/refresh {"refresh_token"} -> 200 token pair.
void refresh_session(const std::shared_ptr<request_context>& context);

/// GET /v1/auth/me -> 200 {"user","tenants"}.
void get_me(const std::shared_ptr<request_context>& context);

/// POST /v1/auth/logout -> 204; the caller's session is revoked.
void logout(const std::shared_ptr<request_context>& context);

} // namespace tally
