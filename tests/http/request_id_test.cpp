// http/request_id: echo 1..128 printable ASCII characters, else a new UUID.
#include <catch2/catch.hpp>

#include <set>

#include "http/request_id.hpp"
#include "protocols/uuid.hpp"

using namespace tally;

TEST_CASE("acceptable ids are echoed") {
  for (std::string id : {std::string("abc-123"), std::string(128, 'r'),
                         std::string("Printable.ASCII_~!#"), std::string("with space")}) {
    INFO(id);
    CHECK(acceptable_request_id(id));
    CHECK(choose_request_id(id) == id);
  }
}

TEST_CASE("unacceptable ids are replaced by fresh UUIDs") {
  for (std::string id : {std::string(""), std::string(129, 'r'), std::string("ab\x01" "cd"),
                         std::string("tab\t"), std::string("caf\xc3\xa9"), std::string("del\x7f")}) {
    INFO(id);
    CHECK_FALSE(acceptable_request_id(id));
    auto chosen = choose_request_id(id);
    CHECK(parse_uuid(chosen));
  }
  CHECK(choose_request_id("") != choose_request_id(""));
}

TEST_CASE("generated ids are version-4 UUIDs and do not repeat") {
  std::set<std::string> seen;
  for (int i = 0; i < 10000; ++i) {
    auto id = choose_request_id("");
    REQUIRE(id.size() == 36);
    CHECK(id[14] == '4');
    CHECK(std::string("89ab").find(id[19]) != std::string::npos);
    CHECK(id.find_first_not_of("0123456789abcdef-") == std::string::npos);
    seen.insert(id);
  }
  CHECK(seen.size() == 10000);
}
