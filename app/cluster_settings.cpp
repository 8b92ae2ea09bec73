#include "app/cluster_settings.hpp"

#include <algorithm>
#include <cctype>

#include <boost/program_options.hpp>

#include "app/settings.hpp"

namespace tally {

namespace po = boost::program_options;

namespace {

/// API.md: the internal port defaults to the HTTP port + 1000.
constexpr int internal_port_offset = 1000;
constexpr size_t node_id_length_max = 64;

} // namespace

bool valid_node_id(const std::string& id) {
  if (id.empty() || id.size() > node_id_length_max) return false;
  return std::all_of(id.begin(), id.end(), [](unsigned char c) {
    return std::isalnum(c) != 0 || c == '.' || c == '_' || c == '-';
  });
}

void add_cluster_options(po::options_description& options, cluster_options& values, settings& s) {
  values.enabled = s.cluster.enabled;
  values.advertise_host = s.cluster.advertise_host;
  values.lease_ttl_ms = s.cluster.lease_ttl.count();
  options.add_options()
    ("cluster", po::value(&values.enabled)->implicit_value(true)->default_value(values.enabled),
     "run as a node of the cluster recorded in the (Postgres) store")
    ("node-id", po::value(&values.node_id),
     "this node's id, 1-64 of [A-Za-z0-9._-] (default <advertise host>:<http port>)")
    ("internal-port", po::value(&values.internal_port)->default_value(values.internal_port),
     "port for node-to-node traffic (-1 = HTTP port + 1000)")
    ("advertise-host", po::value(&values.advertise_host)->default_value(values.advertise_host),
     "the address other nodes use to reach this one")
    ("lease-ttl-ms", po::value(&values.lease_ttl_ms)->default_value(values.lease_ttl_ms),
     "shard lease time-to-live; a dead node's shards move within this plus one renewal");
}

std::string apply_cluster_options(const cluster_options& values, settings& s) {
  auto& cluster = s.cluster;
  cluster.enabled = values.enabled;
  if (values.advertise_host.empty()) return "advertise-host must not be empty";
  cluster.advertise_host = values.advertise_host;
  if (values.lease_ttl_ms < lease_ttl_ms_min)
    return "lease-ttl-ms must be >= " + std::to_string(lease_ttl_ms_min);
  cluster.lease_ttl = std::chrono::milliseconds(values.lease_ttl_ms);
  int64_t internal_port = values.internal_port < 0 ? int64_t{s.http.port} + internal_port_offset
                                                   : values.internal_port;
  if (internal_port < 1 || internal_port > 65535)
    return "internal-port must be 1..65535 (the default is the HTTP port + 1000)";
  cluster.internal_port = static_cast<int>(internal_port);
  cluster.node_id = values.node_id.empty()
                      ? cluster.advertise_host + ":" + std::to_string(s.http.port)
                      : values.node_id;
  // The default from an IPv6 host may carry ':' (allowed as the separator
  // of the default only): check what the operator could have chosen.
  std::string checked = cluster.node_id;
  if (values.node_id.empty()) std::replace(checked.begin(), checked.end(), ':', '-');
  if (!valid_node_id(checked)) return "node-id must be 1-64 of [A-Za-z0-9._-]";
  if (cluster.enabled && s.db_url.rfind("sqlite:", 0) == 0)
    return "cluster mode needs a Postgres store (TALLY_DB=postgresql://...); SQLite is one node";
  return {};
}

} // namespace tally
