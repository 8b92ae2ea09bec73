#pragma once
// The cluster routing settings (issue 15; docs/CLUSTER-FORWARDING.md): the
// forwarder's deadline, pools and bounds, and the internal listener's
// limits. Kept apart from settings.cpp, which only adds these options and
// applies them. (Cluster mode itself, the node id, the internal port and
// the advertised host are app/cluster_settings.cpp's.)
#include <cstdint>

#include <boost/program_options/options_description.hpp>

namespace tally {

struct settings;

/// The raw option values, defaults from `settings`' members.
struct forwarding_options {
  int64_t timeout_ms = 0;
  int64_t connect_timeout_ms = 0;
  int64_t concurrent_max = 0;
  int64_t queued_max = 0;
  int64_t idle_connections_max = 0;
  int64_t internal_body_bytes_max = 0;
  int64_t internal_connections_max = 0;
};

/// Registers the options (flag = config key = TALLY_<NAME>), bound to
/// `values`, whose defaults come from `s`.
void add_forwarding_options(boost::program_options::options_description& options, forwarding_options& values,
                            settings& s);

/// Checks and applies the parsed values to `s` (after s.http.request_deadline
/// and s.cluster are set: in cluster mode the forward deadline must be below
/// the request deadline); an error message or "".
std::string apply_forwarding_options(const forwarding_options& values, settings& s);

} // namespace tally
