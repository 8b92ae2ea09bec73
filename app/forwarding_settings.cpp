#include "app/forwarding_settings.hpp"

#include <string>
#include <utility>

#include <boost/program_options.hpp>

#include "app/settings.hpp"

namespace tally {

namespace po = boost::program_options;

void add_forwarding_options(po::options_description& options, forwarding_options& values, settings& s) {
  const auto& forward = s.forwarding;
  const auto& internal = s.internal_listener;
  values.timeout_ms = forward.timeout.count();
  values.connect_timeout_ms = forward.connect_timeout.count();
  values.concurrent_max = static_cast<int64_t>(forward.calls_per_peer_max);
  values.queued_max = static_cast<int64_t>(forward.queued_per_peer_max);
  values.idle_connections_max = static_cast<int64_t>(forward.idle_connections_per_peer_max);
  values.internal_body_bytes_max = static_cast<int64_t>(internal.body_bytes_max);
  values.internal_connections_max = static_cast<int64_t>(internal.connections_max);
  options.add_options()
    ("forward-timeout-ms", po::value(&values.timeout_ms)->default_value(values.timeout_ms),
     "cluster: a command forwarded to its shard's owner and not answered by then gets 503 SHARD_UNAVAILABLE")
    ("forward-connect-timeout-ms", po::value(&values.connect_timeout_ms)->default_value(values.connect_timeout_ms),
     "cluster: a peer not connected by then is unreachable")
    ("forward-concurrent-max", po::value(&values.concurrent_max)->default_value(values.concurrent_max),
     "cluster: forwarded commands in flight per peer (more wait in a bounded queue)")
    ("forward-queued-max", po::value(&values.queued_max)->default_value(values.queued_max),
     "cluster: forwarded commands waiting per peer (beyond it: 503 OVERLOADED)")
    ("forward-idle-connections-max",
     po::value(&values.idle_connections_max)->default_value(values.idle_connections_max),
     "cluster: idle keep-alive connections kept per peer")
    ("internal-body-bytes-max",
     po::value(&values.internal_body_bytes_max)->default_value(values.internal_body_bytes_max),
     "cluster: largest command body the internal port reads (413 beyond)")
    ("internal-connections-max",
     po::value(&values.internal_connections_max)->default_value(values.internal_connections_max),
     "cluster: open connections from peers on the internal port");
}

std::string apply_forwarding_options(const forwarding_options& values, settings& s) {
  for (auto [name, value] : {std::pair{"forward-timeout-ms", values.timeout_ms},
                             std::pair{"forward-connect-timeout-ms", values.connect_timeout_ms},
                             std::pair{"forward-concurrent-max", values.concurrent_max},
                             std::pair{"forward-queued-max", values.queued_max},
                             std::pair{"forward-idle-connections-max", values.idle_connections_max},
                             std::pair{"internal-body-bytes-max", values.internal_body_bytes_max},
                             std::pair{"internal-connections-max", values.internal_connections_max}}) {
    if (value <= 0) return std::string(name) + " must be > 0";
  }
  // Only a node of a cluster forwards: a single node may keep any deadline.
  if (s.cluster.enabled && values.timeout_ms >= s.http.request_deadline.count())
    return "forward-timeout-ms must be below request-deadline-ms (the client should hear the forward's 503)";
  auto& forward = s.forwarding;
  forward.timeout = std::chrono::milliseconds(values.timeout_ms);
  forward.connect_timeout = std::chrono::milliseconds(values.connect_timeout_ms);
  forward.calls_per_peer_max = static_cast<size_t>(values.concurrent_max);
  forward.queued_per_peer_max = static_cast<size_t>(values.queued_max);
  forward.idle_connections_per_peer_max = static_cast<size_t>(values.idle_connections_max);
  auto& internal = s.internal_listener;
  internal.body_bytes_max = static_cast<size_t>(values.internal_body_bytes_max);
  internal.connections_max = static_cast<size_t>(values.internal_connections_max);
  internal.request_deadline = s.http.request_deadline;
  return {};
}

} // namespace tally
