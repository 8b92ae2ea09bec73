// http/idempotency_key: 1..255 printable characters, RFC 8941 quoted form
// unquoted, and the request digest that detects reuse with another body.
#include <catch2/catch.hpp>

#include "http/idempotency_key.hpp"

using namespace tally;

TEST_CASE("a missing header is missing, an empty one is invalid") {
  CHECK(parse_idempotency_key(false, "").status == idempotency_key_status::missing);
  CHECK(parse_idempotency_key(true, "").status == idempotency_key_status::invalid);
  CHECK(parse_idempotency_key(true, "\"\"").status == idempotency_key_status::invalid);
}

TEST_CASE("plain printable keys are taken as they are, up to 255 characters") {
  auto plain = parse_idempotency_key(true, "order-42 ~!#$%");
  REQUIRE(plain.status == idempotency_key_status::ok);
  CHECK(plain.key == "order-42 ~!#$%");
  std::string longest(idempotency_key_chars_max, 'k');
  CHECK(parse_idempotency_key(true, longest).key == longest);
  CHECK(parse_idempotency_key(true, longest + "k").status == idempotency_key_status::invalid);
}

TEST_CASE("non-printable characters make a key invalid") {
  for (std::string key : {std::string("ab\x01" "cd"), std::string("ab\x7f" "cd"),
                          std::string("tab\there"), std::string("nul\0x", 5),
                          std::string("caf\xc3\xa9")}) {
    INFO(key);
    CHECK(parse_idempotency_key(true, key).status == idempotency_key_status::invalid);
  }
}

TEST_CASE("an RFC 8941 string is unquoted and unescaped") {
  auto quoted = parse_idempotency_key(true, "\"abc\"");
  REQUIRE(quoted.status == idempotency_key_status::ok);
  CHECK(quoted.key == "abc");
  CHECK(parse_idempotency_key(true, R"("a\"b\\c")").key == R"(a"b\c)");
  // 255 characters inside the quotes is the limit, not 255 with them.
  std::string longest(idempotency_key_chars_max, 'q');
  CHECK(parse_idempotency_key(true, "\"" + longest + "\"").key == longest);
  CHECK(parse_idempotency_key(true, "\"" + longest + "q\"").status ==
        idempotency_key_status::invalid);
}

TEST_CASE("broken quoted strings are invalid") {
  for (auto key : {R"("a"b")", R"("a\")", R"("a\x")"}) {
    INFO(key);
    CHECK(parse_idempotency_key(true, key).status == idempotency_key_status::invalid);
  }
  // A value that opens or closes a quote must be one whole quoted string:
  // `"abc` is not the key `"abc` (nor `abc`); a lone quote is unbalanced too.
  for (auto key : {"\"abc", "abc\"", "\"", "\"a\"b"}) {
    INFO(key);
    CHECK(parse_idempotency_key(true, key).status == idempotency_key_status::invalid);
  }
  // A quote inside a plain key is just a character.
  CHECK(parse_idempotency_key(true, "a\"b").key == "a\"b");
}

TEST_CASE("the request digest is hex SHA-256 over name, path user and body") {
  auto digest = request_digest("create_charge", "", R"({"amount":1})");
  CHECK(digest.size() == 64);
  CHECK(digest.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(digest == request_digest("create_charge", "", R"({"amount":1})"));
  CHECK(digest != request_digest("create_charge", "", R"({"amount":2})"));
  CHECK(digest != request_digest("credit_user", "", R"({"amount":1})"));
  CHECK(request_digest("credit_user", "a", "{}") != request_digest("credit_user", "b", "{}"));
  // Endpoint names and UUIDs never hold '\n', so the separators are unambiguous.
  // printf 'x\n\n{}' | sha256sum
  CHECK(request_digest("x", "", "{}") ==
        "f2a71ea2feeef1ec3df17e122a87454aa080c606c011b8ef07d8390c93c91ed7");
}
