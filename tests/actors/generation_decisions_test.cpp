// tests/actors/generation_decisions_test.cpp: the generation decisions
// (actors/generation_decisions.cpp) as pure functions: the create's limits
// in their order, the lifecycle's transitions, and what each end does to
// the balance (a reservation ends by exactly its price, once).
#include <catch2/catch.hpp>

#include <chrono>

#include "actors/generation_decisions.hpp"

using namespace tally;
using namespace std::chrono_literals;

namespace {

constexpr int64_t second_us = 1'000'000;
constexpr timestamp_us t0 = 1'700'000'000LL * second_us;

generation_config defaults() {
  return generation_config{};
}

} // namespace

TEST_CASE("create: the price moves from available to reserved") {
  auto decided = decide_create(balance{100, 7}, 0, 0, t0, 20, defaults());
  REQUIRE(decided.ok());
  const auto& change = decided.value().reservation;
  CHECK(change.type == ledger_type::reserve);
  CHECK(change.amount == 20);
  CHECK(change.after == balance{80, 27});
}

TEST_CASE("create: exactly the available credits may be reserved, one more is 402") {
  CHECK(decide_create(balance{20, 0}, 0, 0, t0, 20, defaults()).ok());
  auto refused = decide_create(balance{19, 0}, 0, 0, t0, 20, defaults());
  REQUIRE(!refused.ok());
  CHECK(refused.error().code == error_code::insufficient_credits);
}

TEST_CASE("create: the 6th active generation is refused with max_active_generations") {
  CHECK(decide_create(balance{100, 0}, 4, 0, t0, 1, defaults()).ok());
  auto refused = decide_create(balance{100, 0}, 5, 0, t0, 1, defaults());
  REQUIRE(!refused.ok());
  CHECK(refused.error().code == error_code::max_active_generations);
}

TEST_CASE("create: 10 per minute, the 11th is rate_limited with a Retry-After, and the rate limit comes first") {
  auto config = defaults();
  timestamp_us tat = 0;
  for (int i = 0; i < 10; ++i) {
    auto decided = decide_create(balance{100, 0}, 0, tat, t0, 1, config);
    REQUIRE(decided.ok());
    tat = decided.value().rate_tat;
  }
  // Refused by the rate limit even though the active limit would refuse too.
  auto refused = decide_create(balance{0, 0}, 5, tat, t0, 1, config);
  REQUIRE(!refused.ok());
  CHECK(refused.error().code == error_code::rate_limited);
  CHECK(refused.error().retry_after_s == 6);  // one emission interval: 60 s / 10
  // One interval later one more is allowed.
  CHECK(decide_create(balance{100, 0}, 0, tat, t0 + 6 * second_us, 1, config).ok());
}

TEST_CASE("lifecycle: pending -> processing -> completed | failed; active -> cancelled; finished is final") {
  using s = generation_status;
  using e = generation_event;
  CHECK(next_status(s::pending, e::submitted) == s::processing);
  CHECK(next_status(s::processing, e::submitted) == std::nullopt);
  CHECK(next_status(s::processing, e::completed) == s::completed);
  CHECK(next_status(s::processing, e::failed) == s::failed);
  CHECK(next_status(s::pending, e::failed) == s::failed);  // time-out or interrupted before submit
  CHECK(next_status(s::pending, e::cancelled) == s::cancelled);
  CHECK(next_status(s::processing, e::cancelled) == s::cancelled);
  for (auto finished : {s::completed, s::failed, s::cancelled})
    for (auto event : {e::submitted, e::completed, e::failed, e::cancelled})
      CHECK(next_status(finished, event) == std::nullopt);
}

TEST_CASE("settle: completion captures the price, failure and cancel release it, active statuses settle nothing") {
  balance held{80, 20};
  auto captured = settle(held, generation_status::completed, 20);
  REQUIRE(captured);
  CHECK(captured->type == ledger_type::capture);
  CHECK(captured->amount == 20);
  CHECK(captured->after == balance{80, 0});
  for (auto released_by : {generation_status::failed, generation_status::cancelled}) {
    auto released = settle(held, released_by, 20);
    REQUIRE(released);
    CHECK(released->type == ledger_type::release);
    CHECK(released->amount == 20);
    CHECK(released->after == balance{100, 0});
  }
  CHECK(!settle(held, generation_status::pending, 20));
  CHECK(!settle(held, generation_status::processing, 20));
}

TEST_CASE("the catalog setting round-trips and rejects malformed models") {
  auto text = format_generation_catalog(default_generation_catalog());
  CHECK(text == "nano-banana:image:5,veo-lite:video:20,chat-small:text:1,doc-writer:document:10:target_pages=3..1000/50");
  std::string error;
  auto parsed = parse_generation_catalog(text, error);
  REQUIRE(parsed);
  CHECK(format_generation_catalog(*parsed) == text);
  for (auto bad : {"", "a:b", "a:b:0", "a:b:x", "a:b:1,a:c:2", "a:b:1:p=5..3/4", "a:b:1:p=1..3/9", "a:b:1:p=1..3"})
    CHECK(!parse_generation_catalog(bad, error));
}
