#include "protocols/cluster_metrics.hpp"

#include <string>

#include "protocols/metrics.hpp"

namespace tally {

cluster_metrics::cluster_metrics(metrics& process_metrics)
  : shards_owned(prometheus::BuildGauge()
                   .Name("tally_cluster_shards_owned")
                   .Help("Shards whose lease this node holds and serves")
                   .Register(process_metrics.registry())
                   .Add({})),
    lease_renewal(prometheus::BuildHistogram()
                    .Name("tally_cluster_lease_renewal_seconds")
                    .Help("Latency of one lease renewal statement")
                    .Register(process_metrics.registry())
                    .Add({}, prometheus::Histogram::BucketBoundaries{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                                     0.1, 0.25, 0.5, 1, 2.5, 5})) {
  auto& family = prometheus::BuildGauge()
                   .Name("tally_cluster_members")
                   .Help("Cluster members by status, as the store's clock sees them")
                   .Register(process_metrics.registry());
  for (auto status : {member_status::alive, member_status::suspect, member_status::dead})
    by_status_[static_cast<size_t>(status)] = &family.Add({{"status", std::string(to_string(status))}});
}

void cluster_metrics::members(int alive, int suspect, int dead) {
  by_status_[static_cast<size_t>(member_status::alive)]->Set(alive);
  by_status_[static_cast<size_t>(member_status::suspect)]->Set(suspect);
  by_status_[static_cast<size_t>(member_status::dead)]->Set(dead);
}

} // namespace tally
