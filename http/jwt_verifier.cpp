#include "http/jwt_verifier.hpp"

#include <cmath>

#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "protocols/base64url.hpp"
#include "protocols/json_writer.hpp"

namespace tally {

namespace {

using json = nlohmann::json;

constexpr size_t hs256_bytes = 32;
/// NumericDates beyond this (year ~285 million) are nonsense, and keeping
/// them below 2^53 makes exp + leeway overflow-free and doubles exact.
constexpr int64_t numeric_date_max = int64_t{1} << 53;

int64_t unix_now_s() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

bool hmac_sha256(std::string_view key, std::string_view data, unsigned char (&out)[hs256_bytes]) {
  unsigned int length = 0;
  auto* result = HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                      reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return result != nullptr && length == hs256_bytes;
}

/// A JSON number as whole Unix seconds (fractions round down, as RFC 7519
/// allows fractional NumericDates).
std::optional<int64_t> numeric_date(const json& value) {
  if (value.is_number_integer()) {
    if (value.is_number_unsigned()) {
      auto n = value.get<uint64_t>();
      if (n > static_cast<uint64_t>(numeric_date_max)) return std::nullopt;
      return static_cast<int64_t>(n);
    }
    auto n = value.get<int64_t>();
    if (n < -numeric_date_max || n > numeric_date_max) return std::nullopt;
    return n;
  }
  if (value.is_number_float()) {
    double d = value.get<double>();
    if (!std::isfinite(d) || d < -static_cast<double>(numeric_date_max) ||
        d > static_cast<double>(numeric_date_max))
      return std::nullopt;
    return static_cast<int64_t>(std::floor(d));
  }
  return std::nullopt;
}

bool audience_matches(const json& aud, const std::string& expected) {
  if (aud.is_string()) return aud.get_ref<const std::string&>() == expected;
  if (aud.is_array()) {
    for (const auto& entry : aud)
      if (entry.is_string() && entry.get_ref<const std::string&>() == expected) return true;
  }
  return false;
}

std::optional<json> decode_json_object(std::string_view part) {
  auto bytes = base64url_decode(part);
  if (!bytes) return std::nullopt;
  auto value = json::parse(*bytes, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object()) return std::nullopt;
  return value;
}

const std::string* string_member(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end() || !it->is_string()) return nullptr;
  return &it->get_ref<const std::string&>();
}

} // namespace

jwt_verifier::jwt_verifier(const http_config& config)
  : secret_(config.jwt_secret),
    issuer_(config.jwt_issuer),
    audience_(config.jwt_audience),
    leeway_s_(config.jwt_leeway.count()) {}

std::optional<access_claims> jwt_verifier::verify(std::string_view token) const {
  return verify(token, unix_now_s());
}

std::optional<access_claims> jwt_verifier::verify(std::string_view token, int64_t now_s) const {
  if (token.empty() || token.size() > access_token_chars_max) return std::nullopt;
  std::string key(token);
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      // Only tokens already past nbf/iat are cached, and time moves forward,
      // so exp is the one check that can change.
      if (now_s > it->second.exp + leeway_s_) {
        cache_.erase(it);
        return std::nullopt;
      }
      return it->second;
    }
  }
  auto claims = verify_uncached(token, now_s);
  if (claims) {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    if (cache_.size() >= verified_token_cache_entries_max) cache_.clear();
    cache_.emplace(std::move(key), *claims);
  }
  return claims;
}

std::optional<access_claims> jwt_verifier::verify_uncached(std::string_view token,
                                                           int64_t now_s) const {
  // An empty secret would make every HMAC forgeable: refuse everything.
  if (secret_.empty()) return std::nullopt;
  auto first_dot = token.find('.');
  if (first_dot == std::string_view::npos) return std::nullopt;
  auto second_dot = token.find('.', first_dot + 1);
  if (second_dot == std::string_view::npos) return std::nullopt;
  if (token.find('.', second_dot + 1) != std::string_view::npos) return std::nullopt;
  auto header_part = token.substr(0, first_dot);
  auto payload_part = token.substr(first_dot + 1, second_dot - first_dot - 1);
  auto signature_part = token.substr(second_dot + 1);
  if (header_part.empty() || payload_part.empty() || signature_part.empty()) return std::nullopt;

  // 1. The algorithm is pinned before the key is touched.
  auto header = decode_json_object(header_part);
  if (!header) return std::nullopt;
  auto alg = string_member(*header, "alg");
  if (!alg || *alg != "HS256") return std::nullopt;
  if (header->contains("crit")) return std::nullopt;  // extensions we do not implement

  // 2. Signature, compared in constant time.
  auto signature = base64url_decode(signature_part);
  if (!signature || signature->size() != hs256_bytes) return std::nullopt;
  unsigned char expected[hs256_bytes];
  if (!hmac_sha256(secret_, token.substr(0, second_dot), expected)) return std::nullopt;
  if (CRYPTO_memcmp(expected, signature->data(), hs256_bytes) != 0) return std::nullopt;

  // 3. Claims.
  auto payload = decode_json_object(payload_part);
  if (!payload) return std::nullopt;
  auto iss = string_member(*payload, "iss");
  if (!iss || *iss != issuer_) return std::nullopt;
  auto aud = payload->find("aud");
  if (aud == payload->end() || !audience_matches(*aud, audience_)) return std::nullopt;

  auto exp_field = payload->find("exp");
  if (exp_field == payload->end()) return std::nullopt;
  auto exp = numeric_date(*exp_field);
  if (!exp || now_s > *exp + leeway_s_) return std::nullopt;
  if (auto nbf_field = payload->find("nbf"); nbf_field != payload->end()) {
    auto nbf = numeric_date(*nbf_field);
    if (!nbf || now_s + leeway_s_ < *nbf) return std::nullopt;
  }
  if (auto iat_field = payload->find("iat"); iat_field != payload->end()) {
    auto iat = numeric_date(*iat_field);
    if (!iat || *iat > now_s + leeway_s_) return std::nullopt;
  }

  auto sub = string_member(*payload, "sub");
  if (!sub) return std::nullopt;
  auto user = parse_uuid(*sub);
  if (!user) return std::nullopt;

  access_claims claims;
  claims.user = *user;
  claims.exp = *exp;
  if (auto sid = payload->find("sid"); sid != payload->end()) {
    if (!sid->is_string()) return std::nullopt;
    claims.session_id = sid->get<std::string>();
  }
  if (auto jti = payload->find("jti"); jti != payload->end()) {
    if (!jti->is_string()) return std::nullopt;
    claims.jti = jti->get<std::string>();
  }
  return claims;
}

std::optional<caller> caller_of(const access_claims& claims) {
  auto session = parse_uuid(claims.session_id);
  if (!session) return std::nullopt;
  return caller{claims.user, *session};
}

std::string sign_access_token(const access_claims& claims, const http_config& config,
                              std::chrono::seconds ttl) {
  static const std::string header = base64url_encode(R"({"alg":"HS256","typ":"JWT"})");
  int64_t now = unix_now_s();
  std::string payload;
  payload.reserve(256);
  // Not `json`: that names nlohmann::json in this file.
  json_writer writer(payload);
  writer.begin_object();
  writer.key("iss").string(config.jwt_issuer);
  writer.key("aud").string(config.jwt_audience);
  writer.key("sub").string(to_string(claims.user));
  if (!claims.session_id.empty()) writer.key("sid").string(claims.session_id);
  writer.key("iat").integer(now);
  writer.key("exp").integer(now + ttl.count());
  writer.key("jti").string(claims.jti.empty() ? to_string(random_uuid()) : claims.jti);
  writer.end_object();

  std::string token = header;
  token += '.';
  token += base64url_encode(payload);
  unsigned char mac[hs256_bytes];
  hmac_sha256(config.jwt_secret, token, mac);
  token += '.';
  token += base64url_encode(std::string_view(reinterpret_cast<const char*>(mac), hs256_bytes));
  return token;
}

} // namespace tally
