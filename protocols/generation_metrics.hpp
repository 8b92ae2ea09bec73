#pragma once
// Generation metrics (API.md "Generations", issue 10): transitions by
// status, active generations and the credits they hold reserved, provider
// latency and the breaker's state. Registered in the process's metrics.
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "protocols/generations.hpp"

namespace tally {

class metrics;

class generation_metrics {
public:
  explicit generation_metrics(metrics& process_metrics);

  /// tally_generations_total{status}: generations that reached this status.
  void entered(generation_status status);

  /// tally_generations_active: pending + processing, all users.
  prometheus::Gauge& active;
  /// tally_generation_reserved_credits: credits reserved by active generations.
  prometheus::Gauge& reserved_credits;
  /// tally_provider_latency_seconds: submit to answer.
  prometheus::Histogram& provider_latency;
  /// tally_provider_breaker_state: 0 closed, 1 open, 2 half-open.
  prometheus::Gauge& breaker_state;

private:
  prometheus::Family<prometheus::Counter>& by_status_;
};

} // namespace tally
