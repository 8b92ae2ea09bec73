// protocols/reply: a reply is delivered exactly once, and a dropped one
// delivers its fallback so no HTTP request can hang on a lost message.
#include <catch2/catch.hpp>

#include <thread>
#include <vector>

#include "protocols/reply.hpp"

using namespace tally;

TEST_CASE("the first delivery wins; copies share it") {
  int calls = 0;
  int seen = 0;
  {
    reply<int> r{[&](outcome<int> o) {
      ++calls;
      seen = o.value();
    }};
    auto copy = r;
    copy(outcome<int>{5});
    r(outcome<int>{6});
  }
  CHECK(calls == 1);
  CHECK(seen == 5);
}

TEST_CASE("a reply dropped undelivered fires its fallback once") {
  int calls = 0;
  error_code code = error_code::none;
  {
    reply<int> r{[&](outcome<int> o) {
                   ++calls;
                   code = o.error().code;
                 },
                 failure{error_code::store_unavailable, "dropped", 1}};
    auto copy = r;
  }
  CHECK(calls == 1);
  CHECK(code == error_code::store_unavailable);
}

TEST_CASE("concurrent deliveries from many threads still call back once") {
  std::atomic<int> calls{0};
  reply<int> r{[&](outcome<int>) { ++calls; }};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) threads.emplace_back([r, i] { r(outcome<int>{i}); });
  for (auto& t : threads) t.join();
  CHECK(calls == 1);
}
