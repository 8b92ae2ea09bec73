// Raw request bytes through what a connection does with them: the
// request_reader (empty lines, bare LFs, Beast's parser, in the pieces the
// first input byte chooses), the framing check, then the request_handler
// over the test gateway (tests/http/fake_gateway), which answers at once.
// Properties: every request gets exactly one answer, with a status, a
// request id and no 500; a refusal has a problem code.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "fuzz/fuzz_secrets.hpp"
#include "http/header_checks.hpp"
#include "http/request_handler.hpp"
#include "http/request_reader.hpp"
#include "protocols/metrics.hpp"
#include "tests/http/fake_gateway.hpp"

namespace {

using namespace tally;

struct harness {
  http_config config;
  metrics registry;
  test::fake_gateway gate;
  std::shared_ptr<request_handler> handler;

  harness() {
    config.jwt_secret = std::string(fuzz::jwt_secret);
    config.admin_token = std::string(fuzz::admin_token);
    config.cors_origins = {"https://app.example.com"};
    config.access_log = false;
    handler = std::make_shared<request_handler>(config, gate, registry);
  }
};

void check_answer(const http_response& response) {
  auto status = response.result_int();
  FUZZ_CHECK(status >= 200 && status < 600);
  FUZZ_CHECK(status != 500);
  FUZZ_CHECK(response.find("X-Request-ID") != response.end());
}

void answer(harness& h, http_request request) {
  int answers = 0;
  h.handler->handle(
    std::move(request),
    [&](http_response response) {
      ++answers;
      check_answer(response);
    },
    "127.0.0.1");
  FUZZ_CHECK(answers == 1);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static harness h;
  if (size == 0) return 0;
  // The first byte picks the read size: 1..256 bytes per read.
  size_t piece = size_t{data[0]} + 1;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);

  request_reader reader(h.config);
  reader.start();
  size_t at = 0;
  for (int requests = 0; requests < 8;) {
    auto state = reader.parse();
    if (state == read_state::need_more) {
      if (at == bytes.size()) state = reader.end_of_input();
      else {
        auto part = bytes.substr(at, piece);
        auto room = reader.prepare(part.size());
        if (room.size() == 0) break;
        std::memcpy(room.data(), part.data(), room.size());
        reader.commit(room.size());
        at += room.size();
        continue;
      }
    }
    if (state == read_state::header_done) {
      if (framing_refusal(reader.header())) break;
      continue;
    }
    if (state == read_state::refused) {
      auto response = h.handler->reject_unreadable(reader.refusal().code,
                                                   reader.header_complete() ? &reader.header() : nullptr,
                                                   reader.refusal().detail);
      check_answer(response);
      FUZZ_CHECK(response.result_int() >= 400);
      break;
    }
    if (state != read_state::complete) break;
    answer(h, reader.release());
    ++requests;
    reader.start();
  }
  return 0;
}
