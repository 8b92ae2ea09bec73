#pragma once
// Cluster forwarding metrics (issue 15; docs/CLUSTER-FORWARDING.md),
// registered in the process's metrics:
//
//   tally_cluster_forwards_total{result}  every forwarding attempt this node
//       sent, by how it ended: ok (the owner answered, success or domain
//       failure), misdirected (it answered 421; one retry follows),
//       unavailable (no owner, refused or reset connection), timeout (the
//       forward deadline passed), overloaded (the per-peer queue was full),
//       error (401 or an unreadable answer: a misconfigured peer)
//   tally_cluster_misdirected_total  commands from other nodes this node
//       refused with 421 (it does not serve their shard)
#include <string_view>

#include <prometheus/counter.h>
#include <prometheus/family.h>

namespace tally {

class metrics;

/// How one forwarding attempt ended (the `result` label).
enum class forward_result : int {
  ok,
  misdirected,
  unavailable,
  timeout,
  overloaded,
  error,
};
inline constexpr int forward_result_count = static_cast<int>(forward_result::error) + 1;

std::string_view to_string(forward_result result);

class forwarding_metrics {
public:
  explicit forwarding_metrics(metrics& process_metrics);

  void count(forward_result result) { by_result_[static_cast<int>(result)]->Increment(); }
  /// tally_cluster_forwards_total{result} so far.
  double counted(forward_result result) const { return by_result_[static_cast<int>(result)]->Value(); }

  /// tally_cluster_misdirected_total
  prometheus::Counter& misdirected;

private:
  prometheus::Counter* by_result_[forward_result_count] = {};
};

} // namespace tally
