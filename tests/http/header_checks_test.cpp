// http/header_checks: body framing (RFC 9112 §6) and header fields whose
// repetition would make a request ambiguous.
#include <catch2/catch.hpp>

#include <string>
#include <utility>
#include <vector>

#include "http/header_checks.hpp"

using namespace tally;
namespace http = boost::beast::http;

namespace {

using field_list = std::vector<std::pair<std::string, std::string>>;

http::request_header<> header_of(field_list fields, unsigned version = 11) {
  http::request_header<> header;
  header.method(http::verb::post);
  header.target("/v1/me/charges");
  header.version(version);
  for (auto& [name, value] : fields) header.insert(name, value);
  return header;
}

} // namespace

TEST_CASE("Content-Length, one final chunked, or no framing at all are accepted") {
  CHECK_FALSE(framing_refusal(header_of({})));
  CHECK_FALSE(framing_refusal(header_of({{"Content-Length", "5"}})));
  CHECK_FALSE(framing_refusal(header_of({{"Transfer-Encoding", "chunked"}})));
  CHECK_FALSE(framing_refusal(header_of({{"Transfer-Encoding", "Chunked"}})));
  CHECK_FALSE(framing_refusal(header_of({{"Transfer-Encoding", " chunked ,"}})));
}

TEST_CASE("a last coding other than chunked, chunked twice or an empty list is 400") {
  for (auto value : {"gzip", "identity", "xchunked", "chunked, identity", "chunked, chunked",
                     "chunked;x=1", "", " , ", "chunked, gzip, chunked"}) {
    INFO(value);
    auto refusal = framing_refusal(header_of({{"Transfer-Encoding", value}}));
    REQUIRE(refusal);
    CHECK(refusal->code == problem_code::bad_request);
    CHECK_FALSE(refusal->detail.empty());
  }
  // Two fields are one list: chunked then identity ends in identity.
  CHECK(framing_refusal(header_of({{"Transfer-Encoding", "chunked"},
                                   {"Transfer-Encoding", "identity"}}))
          ->code == problem_code::bad_request);
}

TEST_CASE("Transfer-Encoding with Content-Length, or in HTTP/1.0, is 400") {
  for (auto value : {"chunked", "identity", "xchunked", "chunked, identity", "gzip, chunked"}) {
    INFO(value);
    auto refusal =
      framing_refusal(header_of({{"Transfer-Encoding", value}, {"Content-Length", "13"}}));
    REQUIRE(refusal);
    CHECK(refusal->code == problem_code::bad_request);
  }
  auto old = framing_refusal(header_of({{"Transfer-Encoding", "chunked"}}, 10));
  REQUIRE(old);
  CHECK(old->code == problem_code::bad_request);
}

TEST_CASE("a coding before the final chunked is 501: none is implemented") {
  for (auto fields : {field_list{{"Transfer-Encoding", "gzip, chunked"}},
                      field_list{{"Transfer-Encoding", "gzip"}, {"Transfer-Encoding", "chunked"}},
                      field_list{{"Transfer-Encoding", "deflate,chunked"}}}) {
    auto refusal = framing_refusal(header_of(fields));
    REQUIRE(refusal);
    CHECK(refusal->code == problem_code::not_implemented);
  }
}

TEST_CASE("Host exactly once in HTTP/1.1, at most once in HTTP/1.0") {
  CHECK_FALSE(ambiguous_header(header_of({{"Host", "a"}})));
  CHECK_FALSE(ambiguous_header(header_of({}, 10)));
  CHECK_FALSE(ambiguous_header(header_of({{"Host", "a"}}, 10)));
  for (auto [fields, version] : {std::pair{field_list{}, 11u},
                                 std::pair{field_list{{"Host", "a"}, {"Host", "a"}}, 11u},
                                 std::pair{field_list{{"Host", "a"}, {"host", "b"}}, 10u}}) {
    auto refusal = ambiguous_header(header_of(fields, version));
    REQUIRE(refusal);
    CHECK(refusal->code == problem_code::bad_request);
    CHECK(refusal->detail.find("Host") != std::string::npos);
  }
}

TEST_CASE("Authorization, Content-Type and Idempotency-Key at most once") {
  CHECK_FALSE(ambiguous_header(header_of({{"Host", "a"},
                                          {"Authorization", "Bearer x"},
                                          {"Content-Type", "application/json"},
                                          {"Idempotency-Key", "k"},
                                          {"Accept", "a"},
                                          {"Accept", "b"}})));
  for (std::string name : {"Authorization", "Content-Type", "Idempotency-Key"}) {
    INFO(name);
    // Even the same value twice: which one a proxy used is unknowable.
    auto refusal = ambiguous_header(header_of({{"Host", "a"}, {name, "same"}, {name, "same"}}));
    REQUIRE(refusal);
    CHECK(refusal->code == problem_code::bad_request);
    CHECK(refusal->detail.find(name) != std::string::npos);
  }
}
