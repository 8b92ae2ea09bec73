// tests/actors/circuit_breaker_test.cpp: the provider's circuit breaker
// (actors/circuit_breaker.cpp) on virtual time: 5 consecutive failures open
// it for 30 s, then exactly one probe goes through and its answer decides.
#include <catch2/catch.hpp>

#include "actors/circuit_breaker.hpp"

using namespace tally;

namespace {

constexpr int64_t second_us = 1'000'000;
constexpr timestamp_us t0 = 1'700'000'000LL * second_us;

circuit_breaker make_breaker() {
  return circuit_breaker{5, 30 * second_us};
}

/// Admits one job at `now` and records its answer.
void run_job(circuit_breaker& breaker, bool ok, timestamp_us now) {
  auto admission = breaker.admit(now);
  REQUIRE(admission.allowed);
  breaker.record(ok, admission, now);
}

} // namespace

TEST_CASE("breaker: 4 failures keep it closed, a success resets the count, the 5th in a row opens it") {
  auto breaker = make_breaker();
  for (int i = 0; i < 4; ++i) run_job(breaker, false, t0);
  CHECK(breaker.state() == breaker_state::closed);
  run_job(breaker, true, t0);
  CHECK(breaker.consecutive_failures() == 0);
  for (int i = 0; i < 4; ++i) run_job(breaker, false, t0);
  CHECK(breaker.state() == breaker_state::closed);
  run_job(breaker, false, t0);
  CHECK(breaker.state() == breaker_state::open);
}

TEST_CASE("breaker: while open every admission is refused with the time left") {
  auto breaker = make_breaker();
  for (int i = 0; i < 5; ++i) run_job(breaker, false, t0);
  auto refused = breaker.admit(t0 + 10 * second_us);
  CHECK(!refused.allowed);
  CHECK(refused.retry_after_s == 20);
  CHECK(breaker.admit(t0 + 30 * second_us - 1).retry_after_s == 1);
}

TEST_CASE("breaker: after the open period exactly one probe; its success closes the circuit") {
  auto breaker = make_breaker();
  for (int i = 0; i < 5; ++i) run_job(breaker, false, t0);
  auto later = t0 + 30 * second_us;
  auto probe = breaker.admit(later);
  REQUIRE(probe.allowed);
  CHECK(probe.probe);
  CHECK(breaker.state() == breaker_state::half_open);
  CHECK(!breaker.admit(later).allowed);  // one probe only
  breaker.record(true, probe, later + 1);
  CHECK(breaker.state() == breaker_state::closed);
  CHECK(breaker.admit(later + 2).allowed);
}

TEST_CASE("breaker: a failed probe opens it for another full period") {
  auto breaker = make_breaker();
  for (int i = 0; i < 5; ++i) run_job(breaker, false, t0);
  auto later = t0 + 31 * second_us;
  auto probe = breaker.admit(later);
  breaker.record(false, probe, later);
  CHECK(breaker.state() == breaker_state::open);
  CHECK(breaker.admit(later + 29 * second_us).retry_after_s == 1);
  CHECK(breaker.admit(later + 30 * second_us).probe);
}

TEST_CASE("breaker: a probe given back (the create failed) lets the next caller probe") {
  auto breaker = make_breaker();
  for (int i = 0; i < 5; ++i) run_job(breaker, false, t0);
  auto later = t0 + 30 * second_us;
  auto probe = breaker.admit(later);
  breaker.give_back(probe);
  CHECK(breaker.admit(later).probe);
}

TEST_CASE("breaker: answers of jobs sent before it opened do not decide while open or half-open") {
  auto breaker = make_breaker();
  auto early = breaker.admit(t0);  // in flight when the circuit opens
  for (int i = 0; i < 5; ++i) run_job(breaker, false, t0);
  breaker.record(true, early, t0 + second_us);
  CHECK(breaker.state() == breaker_state::open);
  auto later = t0 + 30 * second_us;
  auto probe = breaker.admit(later);
  breaker.record(true, early, later);  // not the probe
  CHECK(breaker.state() == breaker_state::half_open);
  breaker.record(false, probe, later);
  CHECK(breaker.state() == breaker_state::open);
}
