#include "test_tokens.hpp"

#include <chrono>

#include <openssl/hmac.h>

#include "protocols/base64url.hpp"

namespace tally::test {

std::string make_token(const nlohmann::json& header, const nlohmann::json& claims,
                       const std::string& secret, const EVP_MD* md) {
  std::string token = base64url_encode(header.dump()) + "." + base64url_encode(claims.dump());
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(md, secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(token.data()), token.size(), mac, &length);
  return token + "." + base64url_encode(std::string(reinterpret_cast<char*>(mac), length));
}

nlohmann::json valid_claims(const std::string& user_id, int64_t now_s, int64_t ttl_s) {
  return {{"iss", "tally"},     {"aud", "tally-api"},        {"sub", user_id},
          {"sid", test_session_text}, {"iat", now_s},              {"exp", now_s + ttl_s},
          {"jti", "jti-1"}};
}

nlohmann::json hs256_header() {
  return {{"alg", "HS256"}, {"typ", "JWT"}};
}

int64_t unix_now_s() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace tally::test
