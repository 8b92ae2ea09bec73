// tests/sim/simulation_test.cpp: the seeded simulation (simulation.hpp) over
// many seeds, its exact replay, and proof that its checks catch a broken store.
#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <iostream>
#include <map>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "tests/sim/sim_command_line.hpp"
#include "tests/sim/simulation.hpp"

using namespace tally::sim;

namespace {

/// Failing seeds printed in full at most (the rest are counted).
constexpr size_t failures_printed_max = 10;
/// Seeds run twice by the replay test.
constexpr uint64_t replayed_seeds = 20;
/// Seeds run against each deliberately broken store.
constexpr uint64_t sabotaged_seeds = 40;

sim_settings settings_from_command_line() {
  sim_settings settings;
  const auto& options = command_line();
  if (options.steps_per_seed > 0) settings.steps_per_seed = options.steps_per_seed;
  settings.trace = options.trace;
  return settings;
}

struct totals {
  size_t seeds = 0;
  size_t steps = 0;
  size_t fresh_acks = 0;
  size_t replays = 0;
  size_t conflicts = 0;
  size_t refused = 0;
  size_t overloaded = 0;
  size_t unavailable = 0;
  size_t dropped = 0;
  size_t kills = 0;
  size_t faults = 0;
  size_t commits = 0;
  size_t activations = 0;
  size_t lost_acks = 0;
  auth_checker::counters auth;
  std::array<size_t, fault_kind_count> faults_by_kind{};

  void add(const seed_report& report) {
    for (size_t i = 0; i < fault_kind_count; ++i) faults_by_kind[i] += report.faults_by_kind[i];
    ++seeds;
    steps += report.steps;
    fresh_acks += report.counters.fresh_acks;
    replays += report.counters.replays;
    conflicts += report.counters.conflicts;
    refused += report.counters.refused;
    overloaded += report.counters.overloaded;
    unavailable += report.counters.unavailable;
    dropped += report.counters.dropped;
    lost_acks += report.counters.lost_acks;
    auth.logins += report.auth_counters.logins;
    auth.refreshes += report.auth_counters.refreshes;
    auth.logouts += report.auth_counters.logouts;
    auth.reuses += report.auth_counters.reuses;
    auth.refused_revoked += report.auth_counters.refused_revoked;
    auth.unknown_refused += report.auth_counters.unknown_refused;
    kills += report.kills;
    faults += report.faults;
    commits += report.commits;
    activations += report.activations;
  }
};

} // namespace

TEST_CASE("every seed holds every invariant", "[sim]") {
  const auto& options = command_line();
  auto settings = settings_from_command_line();
  uint64_t first = options.seed ? *options.seed : options.start_seed;
  uint64_t count = options.seed ? 1 : options.seed_count;

  totals sum;
  std::vector<seed_report> failures;
  auto started = std::chrono::steady_clock::now();
  for (uint64_t seed = first; seed < first + count; ++seed) {
    if (settings.trace) std::cout << "seed " << seed << ":\n";
    auto report = run_seed(seed, settings);
    sum.add(report);
    if (settings.trace || options.seed)
      std::cout << to_string(report) << (report.passed ? " [" + report.world + "]" : "")
                << "; " << report.steps << " steps, trace hash " << std::hex << report.trace_hash
                << std::dec << "\n";
    if (!report.passed) {
      if (failures.size() < failures_printed_max)
        std::cout << to_string(report) << "\n  replay: simulation_test --seed " << seed
                  << " --trace\n";
      failures.push_back(report);
    }
  }
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  std::cout << "simulation: " << sum.seeds << " seeds from " << first << " in " << took.count()
            << " s (" << sum.steps << " steps; " << sum.fresh_acks << " acknowledged, "
            << sum.replays << " replays, " << sum.conflicts << " key conflicts, " << sum.refused
            << " refused, " << sum.overloaded << " overloaded, " << sum.unavailable
            << " unavailable, " << sum.dropped << " dropped; " << sum.faults << " faults, "
            << sum.kills << " kills, " << sum.commits << " commits, " << sum.activations
            << " activations, " << sum.lost_acks << " ack=memory losses); " << failures.size()
            << " failed\n  faults:";
  for (size_t i = 0; i < fault_kind_count; ++i)
    std::cout << (i == 0 ? " " : ", ") << sum.faults_by_kind[i] << " " << fault_kind_names[i];
  std::cout << "\n  auth: " << sum.auth.logins << " logins, " << sum.auth.refreshes
            << " refreshes, " << sum.auth.logouts << " logouts, " << sum.auth.reuses
            << " reuses detected, " << sum.auth.refused_revoked << " refused as revoked, "
            << sum.auth.unknown_refused << " made-up links refused at the gate\n";
  // Failures by kind (ids and numbers masked), each with its first seed: a
  // soak shows at a glance whether more than one bug is behind them.
  std::map<std::string, std::pair<size_t, uint64_t>> kinds;
  const std::regex specifics{"'[^']*'|\\b[0-9a-f]{8}\\b|-?[0-9]+"};
  for (const auto& failed : failures) {
    auto& kind = kinds[std::regex_replace(failed.violation, specifics, "#")];
    if (kind.first++ == 0) kind.second = failed.seed;
  }
  for (const auto& [kind, seen] : kinds)
    std::cout << "  " << seen.first << " x " << kind << " (first: seed " << seen.second << ")\n";
  for (size_t i = 0; i < failures.size() && i < failures_printed_max; ++i)
    FAIL_CHECK(to_string(failures[i]));
  CHECK(failures.empty());
}

TEST_CASE("a seed replays exactly", "[sim]") {
  sim_settings settings;
  for (uint64_t seed = 1; seed <= replayed_seeds; ++seed) {
    auto first = run_seed(seed, settings);
    auto second = run_seed(seed, settings);
    INFO(to_string(first));
    CHECK(first.passed == second.passed);
    CHECK(first.steps == second.steps);
    CHECK(first.trace_hash == second.trace_hash);
    CHECK(first.commits == second.commits);
    CHECK(first.counters.fresh_acks == second.counters.fresh_acks);
  }
}

TEST_CASE("the checks catch a store that acknowledges commits it never stored", "[sim]") {
  // Proof that the simulation can fail: with the lying store every seed
  // must be reported, each naming its step.
  sim_settings settings;
  settings.sabotage = tally::sim::simulated_database::sabotage::forget_commits;
  size_t caught = 0;
  for (uint64_t seed = 1; seed <= sabotaged_seeds; ++seed) {
    auto report = run_seed(seed, settings);
    INFO(to_string(report));
    CHECK_FALSE(report.passed);
    CHECK(report.failed_step > 0);
    caught += report.passed ? 0 : 1;
  }
  CHECK(caught == sabotaged_seeds);
}
