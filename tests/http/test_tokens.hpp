#pragma once
// Test helpers that forge JWTs: any header, any claims, any HMAC digest.
#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>
#include <openssl/evp.h>

namespace tally::test {

inline constexpr const char* test_secret = "test-secret-0123456789";
inline constexpr const char* test_admin_token = "admin-token-0123456789";
/// The `sid` of valid_claims: access tokens must name a session (a UUID).
inline constexpr const char* test_session_text = "5e55a0b1-7c2d-4e3f-9a8b-1c2d3e4f5a6b";

/// header.payload.signature with HMAC(`md`) over the first two parts.
std::string make_token(const nlohmann::json& header, const nlohmann::json& claims,
                       const std::string& secret, const EVP_MD* md = EVP_sha256());

/// The claims of a valid access token for `user_id` in session
/// test_session_text, issued at `now_s`.
nlohmann::json valid_claims(const std::string& user_id, int64_t now_s, int64_t ttl_s = 900);

/// {"alg":"HS256","typ":"JWT"}
nlohmann::json hs256_header();

int64_t unix_now_s();

} // namespace tally::test
