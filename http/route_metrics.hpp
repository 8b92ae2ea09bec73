#pragma once
// Per-route request counters and latency histograms, resolved once: looking
// a labelled child up in a prometheus Family takes a lock and builds a label
// map, too slow for every request. Counters per (route, status) are created
// on first use and then read lock-free.
#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "protocols/metrics.hpp"

namespace tally {

/// Counters and histograms of every route, resolved at start-up.
class route_metrics {
public:
  /// `labels[i]` names route index i; one more slot is added for requests
  /// that matched no route (label "unmatched").
  route_metrics(metrics& registry, const std::vector<std::string>& labels);

  /// Index used for requests without a route.
  size_t unmatched_index() const { return routes_.size() - 1; }

  /// Counts one response and its latency.
  void record(size_t route_index, unsigned status, double seconds);

private:
  /// Statuses 100..599 have a slot; anything else is counted as 599's slot.
  static constexpr unsigned status_first = 100;
  static constexpr unsigned status_slots = 500;

  struct per_route {
    std::string label;
    prometheus::Histogram* latency = nullptr;
    std::array<std::atomic<prometheus::Counter*>, status_slots> by_status{};
  };

  metrics& registry_;
  std::vector<std::unique_ptr<per_route>> routes_;
};

} // namespace tally
