#pragma once
// The generation settings (API.md "Generations"; issue 10): the catalog,
// the limits, the time-out and sweep, the provider and its breaker. Kept
// apart from settings.cpp, which only adds these options and applies them.
#include <cstdint>
#include <string>

#include <boost/program_options/options_description.hpp>

namespace tally {

struct settings;

/// The raw option values, defaults from `settings`' members.
struct generation_options {
  std::string models;
  int64_t rate_per_minute = 0;
  int64_t active_max = 0;
  int64_t timeout_ms = 0;
  int64_t sweep_interval_ms = 0;
  int64_t simulated_delay_ms = 0;
  double simulated_failure_rate = 0;
  int64_t connect_timeout_ms = 0;
  int64_t request_timeout_ms = 0;
  int64_t concurrent_max = 0;
  int64_t queued_max = 0;
  int64_t idle_connections_max = 0;
  int64_t breaker_failures = 0;
  int64_t breaker_open_ms = 0;
};

/// Registers the options (flag = config key = TALLY_<NAME>), bound to `values`,
/// whose defaults come from `s`.
void add_generation_options(boost::program_options::options_description& options, generation_options& values,
                            settings& s);

/// Checks and applies the parsed values to `s`; an error message or "".
std::string apply_generation_options(const generation_options& values, settings& s);

} // namespace tally
