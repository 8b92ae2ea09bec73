// tests/actors/audit_budget_test.cpp: the node-wide budget of failed-login
// audit rows (actors/audit_budget.hpp), alone and raced from threads.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "actors/audit_budget.hpp"

using namespace tally;
using namespace std::chrono_literals;

namespace {

constexpr timestamp_us t0 = 1'700'000'000'000'000;
constexpr int64_t second_us = 1'000'000;

} // namespace

TEST_CASE("an audit budget admits its burst, then one row per interval, naming the gap") {
  audit_budget budget{rate_limit{3, 1min}};
  for (int i = 0; i < 3; ++i) CHECK(budget.admit(t0) == uint64_t{0});
  CHECK_FALSE(budget.admit(t0));
  CHECK_FALSE(budget.admit(t0 + 19 * second_us));
  CHECK(budget.dropped_total() == 2);
  CHECK(budget.admit(t0 + 20 * second_us) == uint64_t{2});  // the gap, once
  CHECK_FALSE(budget.admit(t0 + 20 * second_us));
  CHECK(budget.admit(t0 + 40 * second_us) == uint64_t{1});
  CHECK(audit_detail_after_gap("no_code", 0) == "no_code");
  CHECK(audit_detail_after_gap("no_code", 7) == "no_code; 7 earlier failures not audited");
}

TEST_CASE("threads racing for an audit budget never share a slot and lose no drop") {
  constexpr int threads_count = 8;
  constexpr int attempts_per_thread = 1000;
  audit_budget budget{rate_limit{100, 1min}};
  std::atomic<int> ready{0};
  std::atomic<int> admitted{0};
  std::atomic<uint64_t> gaps_reported{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_count; ++t)
    threads.emplace_back([&] {
      ready.fetch_add(1);
      while (ready.load() < threads_count) std::this_thread::yield();  // start together
      for (int i = 0; i < attempts_per_thread; ++i)
        if (auto gap = budget.admit(t0)) {
          admitted.fetch_add(1);
          gaps_reported.fetch_add(*gap);
        }
    });
  for (auto& thread : threads) thread.join();
  // One instant: exactly the burst, whoever won the races.
  CHECK(admitted.load() == 100);
  CHECK(budget.dropped_total() == threads_count * attempts_per_thread - 100);
  // Every drop is reported by a later admitted row exactly once.
  auto late = budget.admit(t0 + 60 * second_us);
  REQUIRE(late);
  CHECK(gaps_reported.load() + *late == budget.dropped_total());
}
