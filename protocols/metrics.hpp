#pragma once
// The process's Prometheus metrics (prometheus-cpp core registry; /metrics
// renders them with its text serializer). One instance, created by app/ and
// handed by reference to http/, actors/ and persistence/.
#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace tally {

class metrics {
  // Declared first: the families below register in it during construction.
  std::shared_ptr<prometheus::Registry> registry_;

public:
  metrics();

  /// Prometheus text exposition format of every metric.
  std::string render() const;

  /// tally_http_requests_total{route, status}
  prometheus::Family<prometheus::Counter>& http_requests;
  /// tally_http_request_duration_seconds{route}
  prometheus::Family<prometheus::Histogram>& http_latency;
  /// Buckets for http_latency (seconds).
  static prometheus::Histogram::BucketBoundaries latency_buckets();

  /// tally_active_actors{kind}
  prometheus::Family<prometheus::Gauge>& active_actors;
  /// tally_rate_limit_rejections_total{route}
  prometheus::Family<prometheus::Counter>& rate_limit_rejections;

  /// tally_persistence_batch_records: records per committed batch.
  prometheus::Histogram& batch_records;
  /// tally_persistence_flush_seconds: commit latency of one batch.
  prometheus::Histogram& flush_latency;
  /// tally_persistence_backlog_records: records waiting for a commit.
  prometheus::Gauge& backlog_records;
  /// tally_store_errors_total{kind = transient | permanent | fenced}
  prometheus::Family<prometheus::Counter>& store_errors;

  /// For feature metrics that register their own families (generation_metrics.hpp).
  prometheus::Registry& registry() { return *registry_; }

  /// tally_webhook_deliveries_total{outcome = processed | duplicate | ignored
  /// | rejected | invalid_signature | failed}
  prometheus::Family<prometheus::Counter>& webhook_deliveries;
  /// tally_webhook_duplicates_total: deliveries answered `duplicate`.
  prometheus::Counter& webhook_duplicates;
  /// tally_webhook_signature_failures_total{reason = missing | malformed | stale | mismatch}
  prometheus::Family<prometheus::Counter>& webhook_signature_failures;

  metrics(const metrics&) = delete;
  metrics& operator=(const metrics&) = delete;
};

} // namespace tally
