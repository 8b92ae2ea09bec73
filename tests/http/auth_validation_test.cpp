// http/auth_validation: emails are trimmed and lower-cased and must be
// deliverable addresses with one spelling; phones are E.164; codes 6 digits.
#include <catch2/catch.hpp>

#include <string>

#include "http/auth_validation.hpp"

using namespace tally;

TEST_CASE("emails are trimmed and lower-cased") {
  CHECK(normalise_email("alice@example.com") == std::string("alice@example.com"));
  CHECK(normalise_email("  Alice.Smith@Example.COM \t\r\n") ==
        std::string("alice.smith@example.com"));
  CHECK(normalise_email("o'brien+tag@sub.example.co.uk") ==
        std::string("o'brien+tag@sub.example.co.uk"));
  CHECK(normalise_email("x@xn--bcher-kva.example") == std::string("x@xn--bcher-kva.example"));
  CHECK(normalise_email("a!#$%&*/=?^_`{|}~-@a-b.c9") == std::string("a!#$%&*/=?^_`{|}~-@a-b.c9"));
  CHECK(normalise_email("a@127.0.0.1x") == std::string("a@127.0.0.1x"));
}

TEST_CASE("email length limits are inclusive") {
  auto local64 = std::string(64, 'l');
  CHECK(normalise_email(local64 + "@example.com"));
  CHECK_FALSE(normalise_email(local64 + "l@example.com"));
  auto label63 = std::string(63, 'd');
  CHECK(normalise_email("a@" + label63 + ".com"));
  CHECK_FALSE(normalise_email("a@" + label63 + "d.com"));
  // 254 in total: "a@" + labels of 61, 61, 61, 62 with their dots + ".com".
  std::string domain = std::string(61, 'a') + "." + std::string(61, 'b') + "." +
                       std::string(61, 'c') + "." + std::string(62, 'd') + ".com";
  REQUIRE(("a@" + domain).size() == 254);
  CHECK(normalise_email("a@" + domain));
  CHECK_FALSE(normalise_email("ab@" + domain));
  // Surrounding whitespace does not count towards the limit.
  CHECK(normalise_email("   a@" + domain + "   "));
}

TEST_CASE("invalid emails are refused") {
  for (std::string text :
       {std::string(), std::string("   "), std::string("plainaddress"), std::string("@example.com"),
        std::string("alice@"), std::string("alice@@example.com"), std::string("a@b@example.com"),
        std::string("alice@localhost"), std::string("alice@example"), std::string("alice@.com"),
        std::string("alice@example..com"), std::string("alice@example.com."),
        std::string("alice@-example.com"), std::string("alice@example-.com"),
        std::string("alice@exa_mple.com"), std::string("alice@[127.0.0.1]"),
        std::string("alice@127.0.0.1"), std::string("alice@example.123"), std::string(".alice@example.com"),
        std::string("alice.@example.com"), std::string("al..ice@example.com"),
        std::string("al ice@example.com"), std::string("alice@exam ple.com"),
        std::string("\"alice\"@example.com"), std::string("al(ice)@example.com"),
        std::string("al,ice@example.com"), std::string("al\\ice@example.com"),
        std::string("al\tice@example.com"), std::string("alice\n@example.com"),
        std::string("al\x01ice@example.com"), std::string("al\x7fice@example.com"),
        std::string("al\0ice@example.com", 18), std::string("j\xc3\xb6rg@example.com"),
        std::string("jorg@b\xc3\xbc" "cher.example")}) {
    INFO(text);
    CHECK_FALSE(normalise_email(text));
  }
}

TEST_CASE("phones must be E.164: + and 8 to 15 digits, not starting with 0") {
  for (auto text : {"+12345678", "+491701234567", "+123456789012345", "+99999999"}) {
    INFO(text);
    CHECK(is_e164_phone(text));
  }
  for (auto text : {"", "+", "12345678", "+1234567", "+1234567890123456", "+01234567",
                    "+1 2345678", " +12345678", "+12345678 ", "+1234-5678", "++12345678",
                    "+12345678a", "+١٢٣٤٥٦٧٨", "00491701234567"}) {
    INFO(text);
    CHECK_FALSE(is_e164_phone(text));
  }
}

TEST_CASE("codes are exactly six ASCII digits") {
  CHECK(is_login_code("000000"));
  CHECK(is_login_code("123456"));
  for (auto text : {"", "12345", "1234567", "12345a", " 12345", "123 456", "12345\n",
                    "١٢٣٤٥٦", "-12345", "+12345"}) {
    INFO(text);
    CHECK_FALSE(is_login_code(text));
  }
}
