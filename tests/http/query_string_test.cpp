// http/query_string: origin- and absolute-form targets, query parameters.
#include <catch2/catch.hpp>

#include "http/field_value.hpp"
#include "http/query_string.hpp"

using namespace tally;

TEST_CASE("an absolute-form target splits like its origin form") {
  auto plain = split_request_target("/v1/me/ledger?limit=5");
  CHECK(plain.path == "/v1/me/ledger");
  CHECK(plain.query == "limit=5");
  auto absolute = split_request_target("http://example.com:8080/v1/me/ledger?limit=5");
  CHECK(absolute.path == "/v1/me/ledger");
  CHECK(absolute.query == "limit=5");
  CHECK(split_request_target("HTTPS://h/healthz").path == "/healthz");
  CHECK(split_request_target("http://h").path == "/");
  auto bare_query = split_request_target("http://h?x=1");
  CHECK(bare_query.path == "/");
  CHECK(bare_query.query == "x=1");
  // A scheme in another case (found by fuzz_query_string: Beast's iequals
  // read past the end of exactly this).
  CHECK(split_request_target("httP://").path == "/");
  // Not a scheme we know: left as it is (and routed to 404).
  CHECK(split_request_target("ftp://h/healthz").path == "ftp://h/healthz");
}

TEST_CASE("query parameters are percent-decoded, the first one wins") {
  CHECK(query_param("a=1&b=x%20y+z&b=2", "b") == "x y z");
  CHECK_FALSE(query_param("a=1", "b"));
  CHECK(query_param("a", "a") == "");
}

TEST_CASE("ASCII case-insensitive comparison") {
  CHECK(ascii_iequals("Chunked", "chunked"));
  CHECK(ascii_iequals("", ""));
  CHECK_FALSE(ascii_iequals("chunked", "chunke"));
  CHECK_FALSE(ascii_iequals("\xc3\xa9", "\xc3\x89"));  // no Unicode folding
  CHECK_FALSE(ascii_iequals("[", "{"));                 // 'Z'+1 is not 'z'+1
}
