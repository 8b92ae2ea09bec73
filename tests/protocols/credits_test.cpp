// protocols/credits: ledger type names are part of the API (GET /v1/me/ledger).
#include <catch2/catch.hpp>

#include "protocols/credits.hpp"

using namespace tally;

TEST_CASE("ledger types round-trip by their API names") {
  for (auto name : {"grant", "topup", "debit", "charge", "reserve", "capture", "release"}) {
    auto type = parse_ledger_type(name);
    REQUIRE(type);
    CHECK(to_string(*type) == name);
  }
  CHECK_FALSE(parse_ledger_type("refund"));
  CHECK_FALSE(parse_ledger_type("Charge"));
  CHECK_FALSE(parse_ledger_type(""));
}
