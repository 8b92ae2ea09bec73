// http/jwt_verifier: HS256 pinned, constant-time signature check, iss/aud/exp
// required, 30 s leeway on exp/nbf/iat, sub must be a UUID; and the signer
// used by `tally mint-token`.
#include <catch2/catch.hpp>

#include "protocols/base64url.hpp"
#include "http/jwt_verifier.hpp"
#include "test_tokens.hpp"

using namespace tally;
using namespace tally::test;
using nlohmann::json;

namespace {

constexpr const char* user_id = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b";
constexpr int64_t now = 1'800'000'000;

http_config test_config() {
  http_config config;
  config.jwt_secret = test_secret;
  return config;
}

std::optional<access_claims> check(const std::string& token, int64_t at = now) {
  jwt_verifier verifier(test_config());
  return verifier.verify(token, at);
}

} // namespace

TEST_CASE("a valid HS256 token yields its claims") {
  auto claims = check(make_token(hs256_header(), valid_claims(user_id, now), test_secret));
  REQUIRE(claims);
  CHECK(to_string(claims->user) == user_id);
  CHECK(claims->session_id == test_session_text);
  CHECK(claims->jti == "jti-1");
  CHECK(claims->exp == now + 900);
}

TEST_CASE("algorithms other than HS256 are rejected") {
  auto claims = valid_claims(user_id, now);
  auto good = make_token(hs256_header(), claims, test_secret);
  auto parts_end = good.rfind('.');
  // alg none, unsigned and "signed".
  auto none_header = base64url_encode(R"({"alg":"none","typ":"JWT"})");
  auto payload = base64url_encode(claims.dump());
  CHECK_FALSE(check(none_header + "." + payload + "."));
  CHECK_FALSE(check(none_header + "." + payload + good.substr(parts_end)));
  // HS512 / HS384 correctly signed with the right secret.
  CHECK_FALSE(check(make_token({{"alg", "HS512"}, {"typ", "JWT"}}, claims, test_secret,
                               EVP_sha512())));
  CHECK_FALSE(check(make_token({{"alg", "HS384"}, {"typ", "JWT"}}, claims, test_secret,
                               EVP_sha384())));
  // An RS256 header over an HMAC signature (key confusion).
  CHECK_FALSE(check(make_token({{"alg", "RS256"}, {"typ", "JWT"}}, claims, test_secret)));
  // No alg, a non-string alg, different case.
  CHECK_FALSE(check(make_token({{"typ", "JWT"}}, claims, test_secret)));
  CHECK_FALSE(check(make_token({{"alg", 256}}, claims, test_secret)));
  CHECK_FALSE(check(make_token({{"alg", "hs256"}}, claims, test_secret)));
  // Critical extensions we do not understand.
  CHECK_FALSE(check(make_token({{"alg", "HS256"}, {"crit", {"b64"}}}, claims, test_secret)));
}

TEST_CASE("a bad signature is rejected") {
  auto claims = valid_claims(user_id, now);
  CHECK_FALSE(check(make_token(hs256_header(), claims, "another-secret")));
  auto good = make_token(hs256_header(), claims, test_secret);
  auto signature_at = good.rfind('.') + 1;
  CHECK_FALSE(check(good.substr(0, signature_at)));                  // stripped
  CHECK_FALSE(check(good.substr(0, signature_at) + "AAAA"));         // short
  std::string flipped = good;
  flipped[signature_at + 3] = flipped[signature_at + 3] == 'A' ? 'B' : 'A';
  CHECK_FALSE(check(flipped));
  // A payload swapped under a valid signature.
  auto other = valid_claims("00000000-0000-4000-8000-000000000000", now);
  auto first_dot = good.find('.');
  CHECK_FALSE(check(good.substr(0, first_dot + 1) + base64url_encode(other.dump()) +
                    good.substr(signature_at - 1)));
  // An empty secret never verifies, even a token "signed" with it.
  http_config no_secret;
  jwt_verifier verifier(no_secret);
  CHECK_FALSE(verifier.verify(make_token(hs256_header(), claims, ""), now));
}

TEST_CASE("structurally broken tokens are rejected") {
  for (std::string token : {"", "abc", "a.b", "a.b.c", "....", "a.b.c.d", ".x.y", "x..y"}) {
    INFO(token);
    CHECK_FALSE(check(token));
  }
  CHECK_FALSE(check(std::string(access_token_chars_max + 1, 'a')));
  // Valid signature over a payload that is not a JSON object.
  CHECK_FALSE(check(make_token(hs256_header(), json::array({1, 2}), test_secret)));
}

TEST_CASE("iss and aud must be ours; aud must be present") {
  auto claims = valid_claims(user_id, now);
  auto with = [&](const char* name, json value) {
    auto changed = claims;
    if (value.is_null()) changed.erase(name);
    else changed[name] = value;
    return check(make_token(hs256_header(), changed, test_secret));
  };
  CHECK_FALSE(with("iss", "someone-else"));
  CHECK_FALSE(with("iss", nullptr));
  CHECK_FALSE(with("aud", "other-api"));
  CHECK_FALSE(with("aud", nullptr));
  CHECK_FALSE(with("aud", json::array({"other-api"})));
  CHECK(with("aud", json::array({"other-api", "tally-api"})));
}

TEST_CASE("exp is required and honoured with a 30 s leeway") {
  auto claims = valid_claims(user_id, now - 900);  // exp == now
  auto token = make_token(hs256_header(), claims, test_secret);
  CHECK(check(token, now));
  CHECK(check(token, now + 5));    // expired 5 s ago: within leeway
  CHECK(check(token, now + 30));
  CHECK_FALSE(check(token, now + 31));
  CHECK_FALSE(check(token, now + 40));  // expired 40 s ago
  auto no_exp = valid_claims(user_id, now);
  no_exp.erase("exp");
  CHECK_FALSE(check(make_token(hs256_header(), no_exp, test_secret)));
  auto text_exp = valid_claims(user_id, now);
  text_exp["exp"] = std::to_string(now + 900);
  CHECK_FALSE(check(make_token(hs256_header(), text_exp, test_secret)));
  auto fractional = valid_claims(user_id, now);
  fractional["exp"] = static_cast<double>(now) + 100.5;
  CHECK(check(make_token(hs256_header(), fractional, test_secret)));
  auto absurd = valid_claims(user_id, now);
  absurd["exp"] = 1e300;
  CHECK_FALSE(check(make_token(hs256_header(), absurd, test_secret)));
}

TEST_CASE("nbf and iat in the future are rejected beyond the leeway") {
  auto nbf = valid_claims(user_id, now);
  nbf["nbf"] = now + 20;
  CHECK(check(make_token(hs256_header(), nbf, test_secret)));
  nbf["nbf"] = now + 40;
  CHECK_FALSE(check(make_token(hs256_header(), nbf, test_secret)));
  auto iat = valid_claims(user_id, now + 40);  // issued 40 s in the future
  CHECK_FALSE(check(make_token(hs256_header(), iat, test_secret)));
}

TEST_CASE("sub must be a UUID") {
  for (json sub : {json("alice"), json(42), json(nullptr), json("6f1c2a9e3b4d4e5f8a7b9c0d1e2f3a4b")}) {
    auto claims = valid_claims(user_id, now);
    if (sub.is_null()) claims.erase("sub");
    else claims["sub"] = sub;
    INFO(sub.dump());
    CHECK_FALSE(check(make_token(hs256_header(), claims, test_secret)));
  }
}

TEST_CASE("a cached token is re-checked for expiry") {
  jwt_verifier verifier(test_config());
  auto token = make_token(hs256_header(), valid_claims(user_id, now, 60), test_secret);
  CHECK(verifier.verify(token, now));
  CHECK(verifier.verify(token, now));  // served from the cache
  CHECK(verifier.verify(token, now + 60 + 30));
  CHECK_FALSE(verifier.verify(token, now + 60 + 31));
}

TEST_CASE("sign_access_token makes tokens the verifier accepts, with every claim") {
  auto config = test_config();
  access_claims claims;
  claims.user = *parse_uuid(user_id);
  claims.session_id = "sid-7";
  auto token = sign_access_token(claims, config, std::chrono::seconds(60));
  jwt_verifier verifier(config);
  auto verified = verifier.verify(token);
  REQUIRE(verified);
  CHECK(verified->user == claims.user);
  CHECK(verified->session_id == "sid-7");
  CHECK(verified->jti.size() == 36);
  auto payload = json::parse(*base64url_decode(token.substr(token.find('.') + 1,
                                                            token.rfind('.') - token.find('.') - 1)));
  CHECK(payload["iss"] == "tally");
  CHECK(payload["aud"] == "tally-api");
  CHECK(payload["sub"] == user_id);
  CHECK(payload["exp"].get<int64_t>() - payload["iat"].get<int64_t>() == 60);
  auto header = json::parse(*base64url_decode(token.substr(0, token.find('.'))));
  CHECK(header["alg"] == "HS256");
  // Default lifetime: API.md's 900 s.
  auto default_token = sign_access_token(claims, config);
  auto default_payload = json::parse(*base64url_decode(default_token.substr(
    default_token.find('.') + 1, default_token.rfind('.') - default_token.find('.') - 1)));
  CHECK(default_payload["exp"].get<int64_t>() - default_payload["iat"].get<int64_t>() == 900);
  // Signed with another secret: rejected.
  auto other = config;
  other.jwt_secret = "different";
  CHECK_FALSE(jwt_verifier(other).verify(token));
}

TEST_CASE("caller_of takes the user and a UUID session; no session, no caller") {
  access_claims claims;
  claims.user = *parse_uuid(user_id);
  claims.session_id = test_session_text;
  auto who = caller_of(claims);
  REQUIRE(who);
  CHECK(who->user == claims.user);
  CHECK(to_string(who->session) == test_session_text);
  for (auto sid : {"", "session-1", "5e55a0b1-7c2d-4e3f-9a8b-1c2d3e4f5a6", "not-a-uuid-at-all"}) {
    INFO(sid);
    claims.session_id = sid;
    CHECK_FALSE(caller_of(claims));
  }
}
