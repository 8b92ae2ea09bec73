#pragma once
// Deterministic simulation of concurrent load (DESIGN.md, "Testing layers").
//
// One seed = one fresh CAF system on the deterministic scheduler, running the
// real registry, user actors, writer and readers over the simulated store.
// A std::mt19937_64 seeded with the seed decides everything: the world
// (users, limits, ack mode, fault profile), what the simulated clients send
// (charges, admin grants and debits, retries with the same key and body,
// reuse with another body, reads; in half the seeds also magic-link logins,
// refreshes with current and old tokens, logouts and reads with the login
// sessions, checked by auth_checker), which pending actor runs next, when
// virtual time moves, and which faults strike (failed commits, outages,
// fencing, killed user actors, stalled writer or readers, passivation).
// After every step the invariant_checker runs; the first violation ends the
// seed as "seed N failed at step K: ...". Nothing reads the wall clock in a
// way that changes the schedule, so a seed replays exactly.
#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/sim/auth_checker.hpp"
#include "tests/sim/invariant_checker.hpp"
#include "tests/sim/simulated_store.hpp"

namespace tally::sim {

/// The faults a seed can inject, for the report's counters.
constexpr size_t fault_kind_count = 9;
constexpr const char* fault_kind_names[fault_kind_count] = {
  "permanent commit", "transient commits", "outage", "poisoned user", "epoch bump",
  "kill", "writer stall", "reader stall", "passivation"};

/// Knobs of a run (tests/sim/README.md: command line and environment).
struct sim_settings {
  /// Random steps per seed before the healing and quiescence phase.
  size_t steps_per_seed = 500;
  /// Steps the quiescence phase may take before undelivered replies count as
  /// a hang (at 100 ms of virtual time per idle step: minutes of virtual time).
  size_t quiesce_steps_max = 20'000;
  /// Print every step (for replaying one failing seed).
  bool trace = false;
  /// A deliberately broken store, for proving the checks can fail.
  simulated_database::sabotage sabotage = simulated_database::sabotage::none;
};

/// What went wrong in a seed, if anything, and what it exercised.
struct seed_report {
  uint64_t seed = 0;
  bool passed = true;
  /// The step whose checks failed first (0 = set-up).
  size_t failed_step = 0;
  std::string violation;
  /// Hash of every scheduling decision and every reply: equal hashes for
  /// two runs of one seed mean it replayed exactly.
  uint64_t trace_hash = 0;
  size_t steps = 0;
  /// One line: profile, ack mode, users, limits.
  std::string world;
  invariant_checker::counters counters;
  auth_checker::counters auth_counters;
  /// Faults injected, by kind (fault_kind_names), and kills done.
  std::array<size_t, fault_kind_count> faults_by_kind{};
  size_t kills = 0;
  size_t faults = 0;
  size_t commits = 0;
  size_t activations = 0;
};

/// Runs one seed to the end (or to its first violation).
seed_report run_seed(uint64_t seed, const sim_settings& settings);

/// "seed N failed at step K: <violation> [world]" or "seed N passed".
std::string to_string(const seed_report& report);

} // namespace tally::sim
