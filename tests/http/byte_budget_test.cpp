// http/byte_budget: one bound over every connection's held bytes.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "http/byte_budget.hpp"

using namespace tally;

TEST_CASE("a lease grows only within the budget and gives everything back") {
  byte_budget budget(1000);
  {
    budget_lease a(budget), b(budget);
    CHECK(a.try_resize(600));
    CHECK_FALSE(b.try_resize(500));  // 1 100 > 1 000: refused, nothing taken
    CHECK(b.bytes() == 0);
    CHECK(budget.held() == 600);
    CHECK(b.try_resize(400));
    CHECK(budget.held() == 1000);
    CHECK(a.try_resize(100));  // shrinking always works
    CHECK(budget.held() == 500);
    // Memory that exists is taken whatever the bound; new growth is then refused.
    a.resize(900);
    CHECK(budget.held() == 1300);
    CHECK_FALSE(b.try_resize(401));
  }
  CHECK(budget.held() == 0);
}

TEST_CASE("racing leases never take more than the budget together") {
  byte_budget budget(10'000);
  std::atomic<size_t> peak{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      budget_lease lease(budget);
      for (int i = 0; i < 20'000; ++i) {
        if (lease.try_resize(static_cast<size_t>(i % 7) * 1'000)) {
          auto now = budget.held();
          auto seen = peak.load();
          while (now > seen && !peak.compare_exchange_weak(seen, now)) {}
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(peak.load() <= 10'000);
  CHECK(budget.held() == 0);
}
