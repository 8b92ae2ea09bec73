#include "http/route_metrics.hpp"

namespace tally {

route_metrics::route_metrics(metrics& registry, const std::vector<std::string>& labels)
  : registry_(registry) {
  auto add_route = [&](const std::string& label) {
    auto entry = std::make_unique<per_route>();
    entry->label = label;
    entry->latency = &registry_.http_latency.Add({{"route", label}}, metrics::latency_buckets());
    routes_.push_back(std::move(entry));
  };
  for (const auto& label : labels) add_route(label);
  add_route("unmatched");
}

void route_metrics::record(size_t route_index, unsigned status, double seconds) {
  if (route_index >= routes_.size()) route_index = unmatched_index();
  auto& entry = *routes_[route_index];
  unsigned slot = status >= status_first && status < status_first + status_slots
                    ? status - status_first
                    : status_slots - 1;
  auto* counter = entry.by_status[slot].load(std::memory_order_acquire);
  if (!counter) {
    // Family::Add is thread-safe and returns the same child for the same
    // labels, so a race here only repeats a lookup.
    counter = &registry_.http_requests.Add(
      {{"route", entry.label}, {"status", std::to_string(status_first + slot)}});
    entry.by_status[slot].store(counter, std::memory_order_release);
  }
  counter->Increment();
  entry.latency->Observe(seconds);
}

} // namespace tally
