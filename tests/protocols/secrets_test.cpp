// protocols/secrets and protocols/auth_tokens: the primitives every token,
// code and signature check relies on, against published test vectors.
#include <catch2/catch.hpp>

#include <array>
#include <set>

#include "protocols/auth_tokens.hpp"
#include "protocols/base64url.hpp"
#include "protocols/secrets.hpp"

using namespace tally;

TEST_CASE("sha256_hex matches the FIPS 180-2 vectors") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("hmac_sha256 matches RFC 4231 test case 2") {
  CHECK(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?"))
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST_CASE("constant_time_equal compares length and every byte") {
  CHECK(constant_time_equal("", ""));
  CHECK(constant_time_equal("secret", "secret"));
  CHECK_FALSE(constant_time_equal("secret", "secreT"));
  CHECK_FALSE(constant_time_equal("secret", "Secret"));
  CHECK_FALSE(constant_time_equal("secret", "secret "));
  CHECK_FALSE(constant_time_equal("", "x"));
  std::string with_nul("ab\0c", 4);
  CHECK_FALSE(constant_time_equal(with_nul, std::string("ab\0d", 4)));
  CHECK(constant_time_equal(with_nul, std::string("ab\0c", 4)));
}

TEST_CASE("random_bytes and random_digits have the asked shape and vary") {
  CHECK(random_bytes(32).size() == 32);
  CHECK(random_bytes(0).empty());
  CHECK(random_bytes(32) != random_bytes(32));
  std::array<int, 10> seen{};
  for (int i = 0; i < 2000; ++i) {
    auto code = random_digits(6);
    REQUIRE(code.size() == 6);
    for (char c : code) {
      REQUIRE(c >= '0');
      REQUIRE(c <= '9');
      ++seen[static_cast<size_t>(c - '0')];
    }
  }
  // 12 000 digits: each expected 1 200 times; a digit below 1 000 or above
  // 1 400 (over 6 standard deviations off) means a biased generator.
  for (int count : seen) {
    CHECK(count > 1000);
    CHECK(count < 1400);
  }
}

TEST_CASE("identity ids are deterministic per kind and value") {
  auto alice = identity_id(identity_kind::email, "alice@example.com");
  CHECK(alice == identity_id(identity_kind::email, "alice@example.com"));
  CHECK(alice != identity_id(identity_kind::email, "bob@example.com"));
  CHECK(identity_id(identity_kind::phone, "+15551234567")
        != identity_id(identity_kind::email, "+15551234567"));
  CHECK(alice.version() == boost::uuids::uuid::version_name_based_sha1);
}

TEST_CASE("magic and refresh tokens carry their route and 256 random bits") {
  auto identity = identity_id(identity_kind::email, "alice@example.com");
  auto magic = make_magic_token(identity);
  CHECK(magic.size() == 64);
  CHECK(magic_token_identity(magic) == identity);
  CHECK(make_magic_token(identity) != magic);

  auto user = *parse_uuid("0f8fad5b-d9cb-469f-a165-70867728950e");
  auto session = *parse_uuid("7c9e6679-7425-40de-944b-e07fc1f90ae7");
  auto refresh = make_refresh_token(user, session);
  CHECK(refresh.size() == 86);
  auto route = refresh_token_route(refresh);
  REQUIRE(route);
  CHECK(route->user == user);
  CHECK(route->session == session);

  // Each kind rejects the other and anything malformed.
  CHECK_FALSE(magic_token_identity(refresh));
  CHECK_FALSE(refresh_token_route(magic));
  for (const char* bad : {"", "x", "not a token", "AAAA"}) {
    CHECK_FALSE(magic_token_identity(bad));
    CHECK_FALSE(refresh_token_route(bad));
  }
  CHECK_FALSE(magic_token_identity(magic.substr(1)));
  CHECK_FALSE(magic_token_identity(magic + "A"));
  CHECK_FALSE(refresh_token_route(refresh.substr(0, 85) + "="));
}
