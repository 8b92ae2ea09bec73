// Stripe-Signature parsing and verification (protocols/stripe_signature.hpp)
// against a digest computed outside Tally:
//   python3 -c "import hmac,hashlib; print(hmac.new(b'whsec_test_secret',
//     b'1700000000.{\"id\":\"evt_1\",\"type\":\"payment_intent.succeeded\"}',
//     hashlib.sha256).hexdigest())"
#include <catch2/catch.hpp>

#include <cctype>
#include <string>
#include <vector>

#include "protocols/stripe_signature.hpp"

using namespace tally;

namespace {

const std::string secret = "whsec_test_secret";
const std::string body = R"({"id":"evt_1","type":"payment_intent.succeeded"})";
constexpr int64_t signed_at = 1700000000;
/// Computed by Python's hmac module (see the file comment), not by Tally.
const std::string python_digest = "22d8dc182f5c588077683bd378368e29765bfe5df2560112b4f28fef120f0e31";
const std::string other_digest(64, 'a');

std::string header_with(const std::string& digest, int64_t t = signed_at) {
  return "t=" + std::to_string(t) + ",v1=" + digest;
}

signature_verdict verify_at(const std::string& header, int64_t now, const std::string& payload = body) {
  return verify_stripe_signature(header, payload, secret, now, stripe_signature_tolerance_s_default);
}

} // namespace

TEST_CASE("an independently computed signature verifies") {
  CHECK(stripe_v1_signature(secret, signed_at, body) == python_digest);
  CHECK(verify_at(header_with(python_digest), signed_at) == signature_verdict::valid);
}

TEST_CASE("upper-case hex digests are the same digest") {
  std::string upper = python_digest;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(verify_at(header_with(upper), signed_at) == signature_verdict::valid);
}

TEST_CASE("any of several v1 signatures may match, in any position") {
  CHECK(verify_at("t=1700000000,v1=" + other_digest + ",v1=" + python_digest, signed_at)
        == signature_verdict::valid);
  CHECK(verify_at("v1=" + python_digest + ",t=1700000000", signed_at) == signature_verdict::valid);
  CHECK(verify_at("t=1700000000,v1=" + other_digest + ",v1=" + std::string(64, 'b'), signed_at)
        == signature_verdict::mismatch);
}

TEST_CASE("unknown schemes such as v0 are ignored") {
  CHECK(verify_at("t=1700000000,v0=" + other_digest + ",v1=" + python_digest, signed_at)
        == signature_verdict::valid);
  CHECK(verify_at("t=1700000000,v0=" + python_digest, signed_at) == signature_verdict::malformed);
}

TEST_CASE("a tampered body, another secret or another timestamp does not verify") {
  CHECK(verify_at(header_with(python_digest), signed_at, body + " ") == signature_verdict::mismatch);
  CHECK(verify_stripe_signature(header_with(python_digest), body, "whsec_other", signed_at, 300)
        == signature_verdict::mismatch);
  // The digest of t=1700000000 presented with t=1700000001.
  CHECK(verify_at(header_with(python_digest, signed_at + 1), signed_at) == signature_verdict::mismatch);
}

TEST_CASE("timestamps within 300 s either way pass; beyond are stale") {
  auto header = header_with(python_digest);
  CHECK(verify_at(header, signed_at + 299) == signature_verdict::valid);
  CHECK(verify_at(header, signed_at - 299) == signature_verdict::valid);
  CHECK(verify_at(header, signed_at + 300) == signature_verdict::valid);
  CHECK(verify_at(header, signed_at - 300) == signature_verdict::valid);
  CHECK(verify_at(header, signed_at + 301) == signature_verdict::stale);
  CHECK(verify_at(header, signed_at - 301) == signature_verdict::stale);
}

TEST_CASE("the tolerance is a parameter") {
  auto header = header_with(python_digest);
  CHECK(verify_stripe_signature(header, body, secret, signed_at + 11, 10) == signature_verdict::stale);
  CHECK(verify_stripe_signature(header, body, secret, signed_at + 10, 10) == signature_verdict::valid);
}

TEST_CASE("malformed headers are refused before any digest is computed") {
  const std::string good = python_digest;
  const std::vector<std::string> headers{
         std::string{},                                    // empty
         std::string{","},                                 // empty elements
         "v1=" + good,                                     // no t
         "t=1700000000",                                   // no v1
         "t=,v1=" + good,                                  // empty t
         "t=1700000000,v1=",                               // empty v1
         "t=17000x0000,v1=" + good,                        // non-numeric t
         "t=-1700000000,v1=" + good,                       // signed t
         "t= 1700000000,v1=" + good,                       // space in t
         "t=1700000000000000,v1=" + good,                  // t too long
         "t=1700000000,t=1700000000,v1=" + good,           // two t
         "t=1700000000,v1=" + good.substr(1),              // odd digest
         "t=1700000000,v1=" + good.substr(2),              // short digest
         "t=1700000000,v1=" + good + "00",                 // long digest
         "t=1700000000,v1=" + std::string(64, 'g'),        // non-hex digest
         "t=1700000000,v1=" + good + ",",                  // trailing comma
         "t=1700000000,=abc,v1=" + good,                   // empty key
         "t=1700000000,v1" + good,                         // no '='
         "t=1700000000, v1=" + good,                       // space before a key
       };
  for (const auto& header : headers) {
    INFO(header);
    CHECK_FALSE(parse_stripe_signature(header).has_value());
    CHECK(verify_at(header, signed_at) == signature_verdict::malformed);
  }
}

TEST_CASE("too many signatures or too long a header is malformed") {
  std::string header = "t=1700000000";
  for (size_t i = 0; i < stripe_signature_v1_max; ++i) header += ",v1=" + other_digest;
  CHECK(parse_stripe_signature(header).has_value());
  CHECK_FALSE(parse_stripe_signature(header + ",v1=" + python_digest).has_value());
  std::string padded = header_with(python_digest) + ",x=" + std::string(stripe_signature_header_bytes_max, 'y');
  CHECK_FALSE(parse_stripe_signature(padded).has_value());
}

TEST_CASE("a parsed header holds the timestamp and the raw digests") {
  auto parsed = parse_stripe_signature(header_with(python_digest));
  REQUIRE(parsed);
  CHECK(parsed->timestamp_s == signed_at);
  REQUIRE(parsed->v1_digests.size() == 1);
  CHECK(parsed->v1_digests[0].size() == 32);
}
