// http/query_string: origin- and absolute-form targets, query parameters.
#include <catch2/catch.hpp>

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
  // Not a scheme we know: left as it is (and routed to 404).
  CHECK(split_request_target("ftp://h/healthz").path == "ftp://h/healthz");
}

TEST_CASE("query parameters are percent-decoded, the first one wins") {
  CHECK(query_param("a=1&b=x%20y+z&b=2", "b") == "x y z");
  CHECK_FALSE(query_param("a=1", "b"));
  CHECK(query_param("a", "a") == "");
}
