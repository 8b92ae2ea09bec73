#include "protocols/metrics.hpp"

#include <prometheus/text_serializer.h>

namespace tally {

namespace {

std::shared_ptr<prometheus::Registry> make_registry() {
  return std::make_shared<prometheus::Registry>();
}

} // namespace

metrics::metrics()
  : registry_(make_registry()),
    http_requests(prometheus::BuildCounter()
                    .Name("tally_http_requests_total")
                    .Help("HTTP requests by route and status")
                    .Register(*registry_)),
    http_latency(prometheus::BuildHistogram()
                   .Name("tally_http_request_duration_seconds")
                   .Help("HTTP request latency by route")
                   .Register(*registry_)),
    active_actors(prometheus::BuildGauge()
                    .Name("tally_active_actors")
                    .Help("Activated entity actors by kind")
                    .Register(*registry_)),
    rate_limit_rejections(prometheus::BuildCounter()
                            .Name("tally_rate_limit_rejections_total")
                            .Help("Requests rejected by a rate limit, by route")
                            .Register(*registry_)),
    batch_records(prometheus::BuildHistogram()
                    .Name("tally_persistence_batch_records")
                    .Help("Records per committed write-behind batch")
                    .Register(*registry_)
                    .Add({}, prometheus::Histogram::BucketBoundaries{1, 4, 16, 64, 256, 1024,
                                                                     4096, 16384})),
    flush_latency(prometheus::BuildHistogram()
                    .Name("tally_persistence_flush_seconds")
                    .Help("Commit latency of one write-behind batch")
                    .Register(*registry_)
                    .Add({}, prometheus::Histogram::BucketBoundaries{0.0005, 0.001, 0.002, 0.005,
                                                                     0.01, 0.025, 0.05, 0.1, 0.25,
                                                                     1, 5})),
    backlog_records(prometheus::BuildGauge()
                      .Name("tally_persistence_backlog_records")
                      .Help("Records handed to the writer and not yet committed")
                      .Register(*registry_)
                      .Add({})),
    store_errors(prometheus::BuildCounter()
                   .Name("tally_store_errors_total")
                   .Help("Store failures by kind")
                   .Register(*registry_)),
    webhook_deliveries(prometheus::BuildCounter()
                         .Name("tally_webhook_deliveries_total")
                         .Help("Payment webhook deliveries by outcome")
                         .Register(*registry_)),
    webhook_duplicates(prometheus::BuildCounter()
                         .Name("tally_webhook_duplicates_total")
                         .Help("Payment webhook deliveries answered duplicate")
                         .Register(*registry_)
                         .Add({})),
    webhook_signature_failures(prometheus::BuildCounter()
                                 .Name("tally_webhook_signature_failures_total")
                                 .Help("Payment webhook deliveries refused for their signature, by reason")
                                 .Register(*registry_)) {}

prometheus::Histogram::BucketBoundaries metrics::latency_buckets() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5};
}

std::string metrics::render() const {
  return prometheus::TextSerializer{}.Serialize(registry_->Collect());
}

} // namespace tally
