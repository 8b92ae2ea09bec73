#include "app/generation_settings.hpp"

#include <utility>

#include <boost/program_options.hpp>

#include "app/settings.hpp"
#include "http/provider_client.hpp"

namespace tally {

namespace po = boost::program_options;

void add_generation_options(po::options_description& options, generation_options& values, settings& s) {
  const auto& limits = s.runtime.generations;
  const auto& provider = s.provider;
  values.models = format_generation_catalog(s.http.catalog);
  values.rate_per_minute = limits.create_rate.count;
  values.active_max = limits.active_max;
  values.timeout_ms = limits.timeout.count();
  values.sweep_interval_ms = s.runtime.generation_sweep_interval.count();
  values.simulated_delay_ms = provider.simulated_delay.count();
  values.simulated_failure_rate = provider.simulated_failure_rate;
  values.connect_timeout_ms = provider.connect_timeout.count();
  values.request_timeout_ms = provider.request_timeout.count();
  values.concurrent_max = static_cast<int64_t>(provider.concurrent_calls_max);
  values.queued_max = static_cast<int64_t>(provider.queued_calls_max);
  values.idle_connections_max = static_cast<int64_t>(provider.idle_connections_max);
  values.breaker_failures = provider.breaker_failures;
  values.breaker_open_ms = provider.breaker_open.count();
  options.add_options()
    ("generation-models", po::value(&values.models)->default_value(values.models),
     "the catalog: id:type:price[:param=min..max/default;...], comma-separated")
    ("generation-rate-per-minute", po::value(&values.rate_per_minute)->default_value(values.rate_per_minute),
     "generation creations per minute per user")
    ("generation-active-max", po::value(&values.active_max)->default_value(values.active_max),
     "pending + processing generations per user at most")
    ("generation-timeout-ms", po::value(&values.timeout_ms)->default_value(values.timeout_ms),
     "a generation still active this long after creation is failed and released")
    ("generation-sweep-interval-ms", po::value(&values.sweep_interval_ms)->default_value(values.sweep_interval_ms),
     "how often the sweep looks for timed-out generations")
    ("provider-url", po::value(&s.provider.url), "generation provider endpoint (http://); unset = simulated")
    ("provider-simulated-delay-ms", po::value(&values.simulated_delay_ms)->default_value(values.simulated_delay_ms),
     "simulated provider: answer after this")
    ("provider-simulated-failure-rate",
     po::value(&values.simulated_failure_rate)->default_value(values.simulated_failure_rate),
     "simulated provider: share of jobs that fail, 0..1")
    ("provider-connect-timeout-ms", po::value(&values.connect_timeout_ms)->default_value(values.connect_timeout_ms),
     "provider client: connect time-out")
    ("provider-request-timeout-ms", po::value(&values.request_timeout_ms)->default_value(values.request_timeout_ms),
     "provider client: a call not answered by then fails its generation")
    ("provider-concurrent-max", po::value(&values.concurrent_max)->default_value(values.concurrent_max),
     "provider client: calls in flight at most (more wait in a bounded queue)")
    ("provider-queued-max", po::value(&values.queued_max)->default_value(values.queued_max),
     "provider client: calls waiting for a slot at most (beyond it a job fails at once)")
    ("provider-idle-connections-max",
     po::value(&values.idle_connections_max)->default_value(values.idle_connections_max),
     "provider client: idle keep-alive connections kept")
    ("provider-breaker-failures", po::value(&values.breaker_failures)->default_value(values.breaker_failures),
     "consecutive provider failures that open the circuit breaker")
    ("provider-breaker-open-ms", po::value(&values.breaker_open_ms)->default_value(values.breaker_open_ms),
     "how long the breaker stays open before one probe");
}

std::string apply_generation_options(const generation_options& values, settings& s) {
  std::string error;
  auto catalog = parse_generation_catalog(values.models, error);
  if (!catalog) return "generation-models: " + error;
  for (auto [name, value] : {std::pair{"generation-rate-per-minute", values.rate_per_minute},
                             std::pair{"generation-active-max", values.active_max},
                             std::pair{"generation-timeout-ms", values.timeout_ms},
                             std::pair{"generation-sweep-interval-ms", values.sweep_interval_ms},
                             std::pair{"provider-simulated-delay-ms", values.simulated_delay_ms + 1},
                             std::pair{"provider-connect-timeout-ms", values.connect_timeout_ms},
                             std::pair{"provider-request-timeout-ms", values.request_timeout_ms},
                             std::pair{"provider-concurrent-max", values.concurrent_max},
                             std::pair{"provider-queued-max", values.queued_max},
                             std::pair{"provider-idle-connections-max", values.idle_connections_max},
                             std::pair{"provider-breaker-failures", values.breaker_failures},
                             std::pair{"provider-breaker-open-ms", values.breaker_open_ms}}) {
    if (value <= 0) return std::string(name) + " must be > 0";
  }
  if (!(values.simulated_failure_rate >= 0.0 && values.simulated_failure_rate <= 1.0))
    return "provider-simulated-failure-rate must be within 0..1";
  if (!s.provider.url.empty() && !parse_provider_url(s.provider.url, error)) return error;
  s.http.catalog = std::move(*catalog);
  auto& limits = s.runtime.generations;
  limits.create_rate.count = values.rate_per_minute;
  limits.active_max = static_cast<int>(values.active_max);
  limits.timeout = std::chrono::milliseconds(values.timeout_ms);
  s.runtime.generation_sweep_interval = std::chrono::milliseconds(values.sweep_interval_ms);
  auto& provider = s.provider;
  provider.simulated_delay = std::chrono::milliseconds(values.simulated_delay_ms);
  provider.simulated_failure_rate = values.simulated_failure_rate;
  provider.connect_timeout = std::chrono::milliseconds(values.connect_timeout_ms);
  provider.request_timeout = std::chrono::milliseconds(values.request_timeout_ms);
  provider.concurrent_calls_max = static_cast<size_t>(values.concurrent_max);
  provider.queued_calls_max = static_cast<size_t>(values.queued_max);
  provider.idle_connections_max = static_cast<size_t>(values.idle_connections_max);
  provider.breaker_failures = static_cast<int>(values.breaker_failures);
  provider.breaker_open = std::chrono::milliseconds(values.breaker_open_ms);
  s.runtime.provider_settings = provider;
  return {};
}

} // namespace tally
