#pragma once
// What the simulation binary was asked to do (tests/sim/README.md). Filled
// by the custom Catch2 main from the environment, then the command line.
#include <cstddef>
#include <cstdint>
#include <optional>

namespace tally::sim {

struct sim_command_line {
  /// Default seed count of `ctest`: the brief asks for >= 10 000 per run.
  static constexpr uint64_t default_seed_count = 10'000;

  /// Replay exactly this seed (and only it): --seed N / TALLY_SIM_SEED.
  std::optional<uint64_t> seed;
  /// Seeds to run: --seeds N / TALLY_SIM_SEEDS.
  uint64_t seed_count = default_seed_count;
  /// First seed: --start-seed N / TALLY_SIM_START_SEED.
  uint64_t start_seed = 1;
  /// Random steps per seed: --steps N / TALLY_SIM_STEPS (0 = the default).
  size_t steps_per_seed = 0;
  /// Print every step of a replayed seed: --trace / TALLY_SIM_TRACE=1.
  bool trace = false;
};

/// The process-wide options (set once by main before any test runs).
sim_command_line& command_line();

} // namespace tally::sim
