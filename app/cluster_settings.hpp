#pragma once
// The cluster settings (API.md "Configuration"; DESIGN.md "Cluster"):
// TALLY_CLUSTER, TALLY_NODE_ID, TALLY_INTERNAL_PORT, TALLY_ADVERTISE_HOST,
// TALLY_LEASE_TTL_MS. Kept apart from settings.cpp, which only adds these
// options and applies them.
#include <cstdint>
#include <string>

#include <boost/program_options/options_description.hpp>

namespace tally {

struct settings;

/// The raw option values, defaults from `settings`' members.
struct cluster_options {
  bool enabled = false;
  std::string node_id;
  int64_t internal_port = -1;  ///< -1: HTTP port + 1000
  std::string advertise_host;
  int64_t lease_ttl_ms = 0;
};

/// Shortest lease TTL accepted: renewals run every TTL/5 and the local
/// deadline keeps a margin, so below this a busy node would flap.
constexpr int64_t lease_ttl_ms_min = 500;

/// TALLY_NODE_ID: 1-64 of [A-Za-z0-9._-] (API.md).
bool valid_node_id(const std::string& id);

/// Registers the options (flag = config key = TALLY_<NAME>), bound to `values`.
void add_cluster_options(boost::program_options::options_description& options, cluster_options& values,
                         settings& s);

/// Checks and applies the parsed values to `s` (after the HTTP port is
/// known); an error message or "". Cluster mode with SQLite is an error.
std::string apply_cluster_options(const cluster_options& values, settings& s);

} // namespace tally
