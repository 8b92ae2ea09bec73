// http/request_reader: bytes in, one request out; empty lines before the
// request line, bare LFs refused at once, framing reported before the body.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <string_view>

#include "http/request_reader.hpp"

using namespace tally;

namespace {

/// Feeds `bytes` (to a fresh reader) in pieces of `piece` and parses after each; returns the
/// first state other than need_more/header_done (or need_more at the end).
read_state feed(request_reader& reader, std::string_view bytes, size_t piece = 1 << 20) {
  reader.reset();
  reader.start();
  auto state = read_state::need_more;
  for (size_t at = 0; at < bytes.size(); at += piece) {
    auto part = bytes.substr(at, piece);
    auto room = reader.prepare(part.size());
    REQUIRE(room.size() == part.size());
    std::memcpy(room.data(), part.data(), part.size());
    reader.commit(part.size());
    do {
      state = reader.parse();
    } while (state == read_state::header_done);
    if (state != read_state::need_more) return state;
  }
  return state;
}

} // namespace

TEST_CASE("a request read whole or byte by byte") {
  http_config config;
  std::string_view text = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  for (size_t piece : {size_t{1}, size_t{7}, text.size()}) {
    INFO(piece);
    request_reader reader(config);
    REQUIRE(feed(reader, text, piece) == read_state::complete);
    auto request = reader.release();
    CHECK(request.target() == "/x");
    CHECK(request.body() == "abc");
  }
}

TEST_CASE("the header is reported once, before any byte of the body is taken") {
  http_config config;
  request_reader reader(config);
  reader.start();
  std::string_view text = "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
  auto room = reader.prepare(text.size());
  std::memcpy(room.data(), text.data(), text.size());
  reader.commit(text.size());
  CHECK(reader.parse() == read_state::header_done);
  CHECK(reader.buffered() == 3);
  CHECK(reader.parse() == read_state::complete);
}

TEST_CASE("empty lines before the request line are skipped, a bounded number of them") {
  http_config config;
  request_reader reader(config);
  CHECK(feed(reader, "\r\n\r\n\nGET /a HTTP/1.1\r\nHost: h\r\n\r\n", 2) == read_state::complete);
  CHECK(reader.release().target() == "/a");
  std::string many(config.header_bytes_max + 2, '\n');
  CHECK(feed(reader, many) == read_state::refused);
  CHECK(reader.refusal().code == problem_code::headers_too_large);
}

TEST_CASE("a bare LF where a line must end is refused at once, not waited on") {
  http_config config;
  for (std::string_view text :
       {std::string_view("GET / HTTP/1.1\nHost: h\n\n"),
        std::string_view("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n"),
        std::string_view("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n"),
        std::string_view("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "1\r\na\r\n0\r\nTrailer: x\n\r\n")}) {
    for (size_t piece : {size_t{1}, size_t{5}, text.size()}) {
      INFO(text << " in pieces of " << piece);
      request_reader reader(config);
      CHECK(feed(reader, text, piece) == read_state::refused);
      CHECK(reader.refusal().code == problem_code::bad_request);
    }
  }
  // An LF inside chunk data is data.
  request_reader reader(config);
  CHECK(feed(reader, "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\na\nb\r\n0\r\n\r\n", 1) == read_state::complete);
  CHECK(reader.release().body() == "a\nb");
}

TEST_CASE("a pipelined request stays buffered for the next start") {
  http_config config;
  request_reader reader(config);
  CHECK(feed(reader, "GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n") ==
        read_state::complete);
  CHECK(reader.release().target() == "/1");
  reader.start();
  while (true) {
    auto state = reader.parse();
    if (state == read_state::header_done) continue;
    REQUIRE(state == read_state::complete);
    break;
  }
  CHECK(reader.release().target() == "/2");
}

TEST_CASE("too large bodies and headers are refused with their codes; EOF mid-request closes") {
  http_config config;
  config.body_bytes_max = 10;
  request_reader reader(config);
  CHECK(feed(reader, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n") == read_state::refused);
  CHECK(reader.refusal().code == problem_code::payload_too_large);
  CHECK(feed(reader, "GET / HTTP/1.1\r\n" + std::string(config.header_bytes_max, 'x')) ==
        read_state::refused);
  CHECK(reader.refusal().code == problem_code::headers_too_large);
  CHECK(feed(reader, "GET / HTTP/1.1\r\nHo") == read_state::need_more);
  CHECK(reader.end_of_input() == read_state::closed);
}

TEST_CASE("bytes held count a declared body and come back with discard") {
  http_config config;
  request_reader reader(config);
  CHECK(feed(reader, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\nab") ==
        read_state::need_more);
  CHECK(reader.bytes_held() >= 5000);
  reader.reset();
  CHECK(reader.bytes_held() == 0);
  CHECK(reader.bytes_held_after_prepare(1024) == 1024);
}
