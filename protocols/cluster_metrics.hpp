#pragma once
// Cluster membership metrics (API.md "/metrics": cluster members): members
// by status, shards this node owns, lease renewal latency. Registered in the
// process's metrics; only a node in cluster mode creates them.
#include <array>

#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "protocols/cluster_status.hpp"

namespace tally {

class metrics;

class cluster_metrics {
public:
  explicit cluster_metrics(metrics& process_metrics);

  /// tally_cluster_members{status}: members by status (alive, suspect, dead).
  void members(int alive, int suspect, int dead);

  /// tally_cluster_shards_owned: shards this node serves now.
  prometheus::Gauge& shards_owned;
  /// tally_cluster_lease_renewal_seconds: one renewal statement, sent to answer.
  prometheus::Histogram& lease_renewal;

private:
  std::array<prometheus::Gauge*, 3> by_status_{};
};

} // namespace tally
