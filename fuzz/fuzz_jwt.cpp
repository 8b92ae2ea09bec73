// The access-token verifier and the Authorization header. Random bytes never
// pass an HMAC, so half the inputs are signed here first: the input is then
// "<header JSON>\n<payload JSON>", encoded and signed with the verifier's
// own key, which sends it through the claim checks. Properties: an unsigned
// input is accepted only if it carries the right HS256 signature; an
// accepted token verifies again the same way (the cache agrees).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "fuzz/fuzz_secrets.hpp"
#include "http/bearer.hpp"
#include "http/jwt_verifier.hpp"
#include "protocols/base64url.hpp"
#include "protocols/secrets.hpp"

using namespace tally;

namespace {

/// A fixed "now" so that exp and nbf checks are reproducible.
constexpr int64_t now_s = 1'800'000'000;

const jwt_verifier& verifier() {
  static const auto& config = [] {
    static http_config c;
    c.jwt_secret = std::string(fuzz::jwt_secret);
    return c;
  }();
  static jwt_verifier instance(config);
  return instance;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  bool sign = data[0] & 1;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  bearer_credentials(bytes);

  std::string token;
  if (sign) {
    auto newline = bytes.find('\n');
    auto header = bytes.substr(0, newline);
    auto payload = newline == std::string_view::npos ? std::string_view{} : bytes.substr(newline + 1);
    token = base64url_encode(header) + "." + base64url_encode(payload);
    token += "." + base64url_encode(hmac_sha256(fuzz::jwt_secret, token));
  } else {
    token = std::string(bytes);
  }
  auto claims = verifier().verify(token, now_s);
  if (!claims) return 0;
  // Nothing passes without the key: the last part is the HMAC of the rest.
  auto last_dot = token.rfind('.');
  FUZZ_CHECK(last_dot != std::string::npos);
  FUZZ_CHECK(base64url_decode(std::string_view(token).substr(last_dot + 1)) ==
             hmac_sha256(fuzz::jwt_secret, std::string_view(token).substr(0, last_dot)));
  auto again = verifier().verify(token, now_s);
  FUZZ_CHECK(again && again->user == claims->user && again->session_id == claims->session_id);
  caller_of(*claims);
  return 0;
}
