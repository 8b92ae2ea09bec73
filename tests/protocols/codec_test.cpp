// protocols/codec: stored idempotent responses must decode to the same result,
// and garbage must be rejected, never crash.
#include <catch2/catch.hpp>

#include "protocols/codec.hpp"

using namespace tally;

TEST_CASE("charge_result round-trips through msgpack") {
  charge_result original{random_uuid(), 7, 30};
  auto decoded = decode_charge_result(encode(original));
  REQUIRE(decoded);
  CHECK(decoded->id == original.id);
  CHECK(decoded->amount == 7);
  CHECK(decoded->available == 30);
}

TEST_CASE("credit_result round-trips, including extreme values") {
  credit_result original{INT64_MAX, 0};
  auto decoded = decode_credit_result(encode(original));
  REQUIRE(decoded);
  CHECK(decoded->available == INT64_MAX);
  CHECK(decoded->reserved == 0);
}

TEST_CASE("decoding rejects other shapes and garbage") {
  CHECK_FALSE(decode_charge_result(""));
  CHECK_FALSE(decode_charge_result("\xc1garbage"));
  CHECK_FALSE(decode_charge_result(encode(credit_result{1, 2})));
  CHECK_FALSE(decode_credit_result(encode(charge_result{random_uuid(), 1, 2})));
  auto bytes = encode(charge_result{random_uuid(), 1, 2});
  CHECK_FALSE(decode_charge_result(bytes.substr(0, bytes.size() - 1)));
}
