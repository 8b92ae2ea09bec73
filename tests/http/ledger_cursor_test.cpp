// http/ledger_cursor and base64url: cursors round-trip; anything else is rejected.
#include <catch2/catch.hpp>

#include "protocols/base64url.hpp"
#include "http/ledger_cursor.hpp"

using namespace tally;

TEST_CASE("base64url round-trips every length without padding") {
  std::string bytes;
  for (int i = 0; i < 40; ++i) {
    auto encoded = base64url_encode(bytes);
    CHECK(encoded.find_first_of("+/=") == std::string::npos);
    auto decoded = base64url_decode(encoded);
    REQUIRE(decoded);
    CHECK(*decoded == bytes);
    bytes += static_cast<char>(i * 37 + 250);
  }
  CHECK(base64url_encode("\xfb\xff") == "-_8");
}

TEST_CASE("base64url decoding is strict") {
  CHECK_FALSE(base64url_decode("ab+c"));
  CHECK_FALSE(base64url_decode("ab/c"));
  CHECK_FALSE(base64url_decode("YQ=="));  // padding
  CHECK_FALSE(base64url_decode("a"));     // impossible length
  CHECK_FALSE(base64url_decode("YR"));    // stray low bits ("YQ" is canonical)
  CHECK(base64url_decode("YQ") == std::string("a"));
}

TEST_CASE("cursors round-trip positive seqs") {
  for (int64_t seq : {int64_t{1}, int64_t{51}, int64_t{1'000'000}, INT64_MAX}) {
    auto cursor = encode_ledger_cursor(seq);
    CHECK(cursor.size() <= ledger_cursor_chars_max);
    CHECK(decode_ledger_cursor(cursor) == seq);
  }
}

TEST_CASE("garbage cursors are rejected") {
  for (std::string cursor :
       {std::string(""), std::string("garbage"), std::string("%00%01"), std::string(300, 'A'),
        std::string("eyJ4IjoxfQ"), base64url_encode("0"), base64url_encode("-5"),
        base64url_encode("+5"), base64url_encode("05"), base64url_encode("5 "),
        base64url_encode("99999999999999999999"), std::string("MQ==")}) {
    INFO(cursor);
    CHECK_FALSE(decode_ledger_cursor(cursor));
  }
}
