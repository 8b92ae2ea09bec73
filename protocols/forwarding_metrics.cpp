#include "protocols/forwarding_metrics.hpp"

#include <string>

#include "protocols/metrics.hpp"

namespace tally {

std::string_view to_string(forward_result result) {
  switch (result) {
    case forward_result::ok: return "ok";
    case forward_result::misdirected: return "misdirected";
    case forward_result::unavailable: return "unavailable";
    case forward_result::timeout: return "timeout";
    case forward_result::overloaded: return "overloaded";
    case forward_result::error: return "error";
  }
  return "error";
}

forwarding_metrics::forwarding_metrics(metrics& process_metrics)
  : misdirected(prometheus::BuildCounter()
                  .Name("tally_cluster_misdirected_total")
                  .Help("Commands from other nodes refused with 421: this node does not serve their shard")
                  .Register(process_metrics.registry())
                  .Add({})) {
  auto& family = prometheus::BuildCounter()
                   .Name("tally_cluster_forwards_total")
                   .Help("Commands forwarded to the node that serves their shard, by result")
                   .Register(process_metrics.registry());
  // Every label exists from the start, so a scrape shows zeros, not gaps.
  for (int i = 0; i < forward_result_count; ++i)
    by_result_[i] = &family.Add({{"result", std::string(to_string(static_cast<forward_result>(i)))}});
}

} // namespace tally
