// tests/sim/webhook_simulation: seeded payment-webhook runs (issue 12), and
// the proof that their checks fail when the store loses commits.
#include <catch2/catch.hpp>

#include "tests/sim/sim_command_line.hpp"
#include "tests/sim/webhook_simulation.hpp"

using namespace tally::sim;

namespace {

/// Seeds of the default run: each is small (a few objects, 300 steps).
constexpr uint64_t webhook_seeds_default = 300;
constexpr size_t webhook_steps = 300;

} // namespace

TEST_CASE("webhook seeds: at most one top-up per event id and per payment object", "[sim][webhook]") {
  const auto& options = command_line();
  auto first = options.seed ? *options.seed : options.start_seed;
  auto count = options.seed ? uint64_t{1} : webhook_seeds_default;
  size_t processed = 0;
  size_t duplicates = 0;
  size_t kills = 0;
  for (uint64_t seed = first; seed < first + count; ++seed) {
    auto report = run_webhook_seed(seed, webhook_steps);
    INFO(to_string(report));
    REQUIRE(report.passed);
    processed += report.processed;
    duplicates += report.duplicates;
    kills += report.kills;
  }
  // The runs exercised what they claim to.
  if (count > 1) {
    CHECK(processed > count / 2);
    CHECK(duplicates > count);
    CHECK(kills > count / 4);
  }
}

TEST_CASE("webhook seeds: a store that loses commits is caught", "[sim][webhook]") {
  size_t caught = 0;
  for (uint64_t seed = 1; seed <= 20; ++seed)
    if (!run_webhook_seed(seed, webhook_steps, tally::sim::simulated_database::sabotage::forget_commits).passed)
      ++caught;
  CHECK(caught > 10);
}
