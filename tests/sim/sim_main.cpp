// The simulation binary's own Catch2 main: the shared tests/test_main.cpp
// cannot take the seed options. Environment first, the command line wins.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>
#include <string>

#include "tests/sim/sim_command_line.hpp"

namespace tally::sim {

sim_command_line& command_line() {
  static sim_command_line options;
  return options;
}

} // namespace tally::sim

namespace {

/// An unsigned number from the environment, if set and well-formed.
template <class T>
void from_environment(const char* name, T& target) {
  const char* text = std::getenv(name);
  if (text == nullptr || *text == '\0') return;
  char* end = nullptr;
  auto value = std::strtoull(text, &end, 10);
  if (end != nullptr && *end == '\0') target = static_cast<T>(value);
}

} // namespace

int main(int argc, char* argv[]) {
  auto& options = tally::sim::command_line();
  uint64_t seed = 0;
  bool seed_given = false;
  from_environment("TALLY_SIM_SEEDS", options.seed_count);
  from_environment("TALLY_SIM_START_SEED", options.start_seed);
  from_environment("TALLY_SIM_STEPS", options.steps_per_seed);
  if (std::getenv("TALLY_SIM_SEED") != nullptr) {
    from_environment("TALLY_SIM_SEED", seed);
    seed_given = true;
  }
  if (const char* trace = std::getenv("TALLY_SIM_TRACE")) options.trace = std::string(trace) == "1";

  Catch::Session session;
  using Catch::clara::Opt;
  auto cli = session.cli()
             | Opt([&](uint64_t value) { seed = value; seed_given = true; }, "seed")["--seed"](
                 "replay exactly this one seed")
             | Opt(options.seed_count, "count")["--seeds"]("how many seeds to run (soak)")
             | Opt(options.start_seed, "seed")["--start-seed"]("the first seed to run")
             | Opt(options.steps_per_seed, "steps")["--steps"]("random steps per seed")
             | Opt(options.trace)["--trace"]("print every step of the seeds run");
  session.cli(cli);
  if (int status = session.applyCommandLine(argc, argv); status != 0) return status;
  if (seed_given) options.seed = seed;
  return session.run();
}
