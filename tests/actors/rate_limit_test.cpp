// tests/actors/rate_limit_test.cpp: GCRA (actors/rate_limit.cpp) with exact
// arithmetic, and the bounded per-IP table (actors/ip_limit_table.cpp).
#include <catch2/catch.hpp>

#include <chrono>
#include <limits>
#include <string>

#include "actors/ip_limit_table.hpp"
#include "actors/rate_limit.hpp"

using namespace tally;
using namespace std::chrono_literals;

namespace {

constexpr int64_t second_us = 1'000'000;
/// Any fixed wall time: GCRA only looks at differences.
constexpr timestamp_us t0 = 1'700'000'000LL * second_us;

} // namespace

TEST_CASE("GCRA: the emission interval is period / count, rounded up") {
  CHECK(gcra_interval_us(rate_limit{5, 1min}) == 12 * second_us);
  CHECK(gcra_interval_us(rate_limit{30, 1min}) == 2 * second_us);
  CHECK(gcra_interval_us(rate_limit{7, 1min}) == 8'571'429);  // 60 s / 7, rounded up
}

TEST_CASE("GCRA: a fresh key takes a burst of count, then one per interval") {
  const rate_limit limit{5, 1min};
  timestamp_us tat = 0;
  for (int i = 1; i <= 5; ++i) {
    auto decision = gcra(tat, t0, limit);
    INFO("event " << i);
    REQUIRE(decision.allowed);
    CHECK(decision.tat == t0 + i * 12 * second_us);
    tat = decision.tat;
  }
  // The 6th at once: the new TAT would be 72 s ahead, 12 s beyond the period.
  auto sixth = gcra(tat, t0, limit);
  CHECK_FALSE(sixth.allowed);
  CHECK(sixth.tat == tat);  // a refusal spends nothing
  CHECK(sixth.retry_after_us == 12 * second_us);
  CHECK(retry_after_seconds(sixth.retry_after_us) == 12);

  // One microsecond early it is still refused, by exactly that microsecond...
  auto early = gcra(tat, t0 + 12 * second_us - 1, limit);
  CHECK_FALSE(early.allowed);
  CHECK(early.retry_after_us == 1);
  CHECK(retry_after_seconds(early.retry_after_us) == 1);  // never 0 (API.md: >= 1)
  // ...and exactly at the retry time it is allowed.
  auto on_time = gcra(tat, t0 + 12 * second_us, limit);
  CHECK(on_time.allowed);
  CHECK(on_time.tat == t0 + 72 * second_us);
}

TEST_CASE("GCRA: an idle key recovers the whole burst, never more") {
  const rate_limit limit{2, 10s};  // interval 5 s
  auto first = gcra(0, t0, limit);
  auto second = gcra(first.tat, t0, limit);
  REQUIRE(second.allowed);
  CHECK_FALSE(gcra(second.tat, t0, limit).allowed);
  // An hour later: two at once again, the third refused.
  auto later = t0 + 3600 * second_us;
  CHECK(gcra_recovered(second.tat, later));
  auto a = gcra(second.tat, later, limit);
  auto b = gcra(a.tat, later, limit);
  CHECK((a.allowed && b.allowed));
  CHECK_FALSE(gcra(b.tat, later, limit).allowed);
  CHECK_FALSE(gcra_recovered(b.tat, later));
}

TEST_CASE("GCRA: a limit of zero allows nothing") {
  auto decision = gcra(0, t0, rate_limit{0, 1min});
  CHECK_FALSE(decision.allowed);
  CHECK(retry_after_seconds(decision.retry_after_us) >= 1);
}

TEST_CASE("Retry-After is whole seconds rounded up, at least 1") {
  CHECK(retry_after_seconds(0) == 1);
  CHECK(retry_after_seconds(1) == 1);
  CHECK(retry_after_seconds(second_us) == 1);
  CHECK(retry_after_seconds(second_us + 1) == 2);
  CHECK(retry_after_seconds(12 * second_us) == 12);
  // Extreme waits (a limit of 0 answers INT64_MAX) saturate, never wrap.
  CHECK(retry_after_seconds(std::numeric_limits<int64_t>::max()) == std::numeric_limits<int>::max());
  CHECK(retry_after_seconds(std::numeric_limits<int64_t>::min()) == 1);
}

TEST_CASE("ip table: each IP has its own limit") {
  ip_limit_table table{rate_limit{2, 10s}, 100};
  CHECK(table.check("a", t0).allowed);
  CHECK(table.check("a", t0).allowed);
  auto third = table.check("a", t0);
  CHECK_FALSE(third.allowed);
  CHECK(third.retry_after_us == 5 * second_us);
  CHECK(table.check("b", t0).allowed);
  CHECK(table.size() == 2);
}

TEST_CASE("ip table: when full, recovered entries are dropped first") {
  ip_limit_table table{rate_limit{2, 10s}, 32};
  for (int i = 0; i < 32; ++i) REQUIRE(table.check("ip" + std::to_string(i), t0).allowed);
  REQUIRE(table.size() == 32);
  // 6 s later every entry (TAT t0 + 5 s) has recovered: all of them go,
  // none of the limits is forgotten early.
  CHECK(table.check("new", t0 + 6 * second_us).allowed);
  CHECK(table.size() == 1);
  CHECK(table.evicted_recovered() == 32);
  CHECK(table.evicted_active() == 0);
}

TEST_CASE("ip table: beyond the bound the least recently limited active entries go") {
  ip_limit_table table{rate_limit{2, 10s}, 32};  // frees 32 / 16 = 2 at once
  // ip1 exhausts its limit first, ip2..ip31 take one each, ip0 exhausts last.
  REQUIRE(table.check("ip1", t0).allowed);
  REQUIRE(table.check("ip1", t0).allowed);
  for (int i = 2; i < 32; ++i) REQUIRE(table.check("ip" + std::to_string(i), t0).allowed);
  REQUIRE(table.check("ip0", t0).allowed);
  REQUIRE(table.check("ip0", t0).allowed);
  REQUIRE(table.size() == 32);

  // A new IP one second later: nothing has recovered, so the two least
  // recently limited entries (ip1, ip2) make room.
  auto now = t0 + second_us;
  CHECK(table.check("new", now).allowed);
  CHECK(table.evicted_recovered() == 0);
  CHECK(table.evicted_active() == 2);
  CHECK(table.size() == 31);
  CHECK_FALSE(table.check("ip0", now).allowed);  // kept: still limited
  CHECK(table.check("ip1", now).allowed);        // forgotten: starts afresh
  CHECK(table.size() == 32);
}

TEST_CASE("ip table: the bound holds under a flood of distinct addresses") {
  constexpr size_t bound = 64;
  ip_limit_table table{rate_limit{30, 1min}, bound};
  for (int i = 0; i < 10'000; ++i) {
    table.check("flood-" + std::to_string(i), t0 + i);
    REQUIRE(table.size() <= bound);
  }
  CHECK(table.evicted_active() + table.size() == 10'000);
}
