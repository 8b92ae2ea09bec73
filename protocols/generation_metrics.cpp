#include "protocols/generation_metrics.hpp"

#include <string>

#include "protocols/metrics.hpp"

namespace tally {

generation_metrics::generation_metrics(metrics& process_metrics)
  : active(prometheus::BuildGauge()
             .Name("tally_generations_active")
             .Help("Generations pending or processing")
             .Register(process_metrics.registry())
             .Add({})),
    reserved_credits(prometheus::BuildGauge()
                       .Name("tally_generation_reserved_credits")
                       .Help("Credits reserved by active generations (outstanding reservations)")
                       .Register(process_metrics.registry())
                       .Add({})),
    provider_latency(prometheus::BuildHistogram()
                       .Name("tally_provider_latency_seconds")
                       .Help("Generation provider latency, submit to answer")
                       .Register(process_metrics.registry())
                       .Add({}, prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
                                                                        5, 10, 30, 60, 120})),
    breaker_state(prometheus::BuildGauge()
                    .Name("tally_provider_breaker_state")
                    .Help("Provider circuit breaker: 0 closed, 1 open, 2 half-open")
                    .Register(process_metrics.registry())
                    .Add({})),
    by_status_(prometheus::BuildCounter()
                 .Name("tally_generations_total")
                 .Help("Generations that reached each status")
                 .Register(process_metrics.registry())) {
  for (auto status : {generation_status::pending, generation_status::processing, generation_status::completed,
                      generation_status::failed, generation_status::cancelled})
    by_status_.Add({{"status", std::string(to_string(status))}});
}

void generation_metrics::entered(generation_status status) {
  by_status_.Add({{"status", std::string(to_string(status))}}).Increment();
}

} // namespace tally
