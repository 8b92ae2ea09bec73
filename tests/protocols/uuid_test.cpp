// protocols/uuid: strict parsing for path ids (400 INVALID_ID otherwise).
#include <catch2/catch.hpp>

#include "protocols/uuid.hpp"

using namespace tally;

TEST_CASE("parse_uuid accepts the canonical form in either case and round-trips") {
  auto id = parse_uuid("0F8FAD5B-D9CB-469F-A165-70867728950E");
  REQUIRE(id);
  CHECK(to_string(*id) == "0f8fad5b-d9cb-469f-a165-70867728950e");
  CHECK(parse_uuid(to_string(*id)) == id);
}

TEST_CASE("parse_uuid rejects everything but the 8-4-4-4-12 form") {
  for (const char* bad : {"", "0f8fad5b", "0f8fad5bd9cb469fa16570867728950e",
                          "{0f8fad5b-d9cb-469f-a165-70867728950e}",
                          "0f8fad5b-d9cb-469f-a165-70867728950", "0f8fad5b-d9cb-469f-a165-70867728950e0",
                          "0f8fad5b_d9cb-469f-a165-70867728950e", "0g8fad5b-d9cb-469f-a165-70867728950e",
                          "0f8fad5b-d9cb-469f-a165-70867728950 "}) {
    INFO(bad);
    CHECK_FALSE(parse_uuid(bad));
  }
}

TEST_CASE("random_uuid gives distinct version-4 ids") {
  auto a = random_uuid();
  auto b = random_uuid();
  CHECK(a != b);
  CHECK(to_string(a)[14] == '4');
}
