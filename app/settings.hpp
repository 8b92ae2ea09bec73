#pragma once
// Everything the service can be told, from three sources. Precedence, highest
// first: TALLY_* environment variables, command-line flags, the config file
// (--config). Boost.Program_options does the parsing, so a wrongly typed value
// is a clear start-up error rather than silently ignored.
#include <optional>
#include <string>
#include <vector>

#include "actors/runtime.hpp"
#include "http/cluster_http_config.hpp"
#include "http/http_config.hpp"
#include "protocols/cluster_config.hpp"

namespace tally {

/// What `tally <command>` should do.
enum class app_command {
  serve,        ///< run the service (default)
  migrate,      ///< apply store migrations and exit
  create_user,  ///< insert a user into the store (tests, walkthrough)
  mint_token,   ///< print an access token for a user (dev and tests)
};

struct settings {
  app_command command = app_command::serve;
  http_config http;
  runtime_config runtime;
  std::string db_url = "sqlite:./data/tally.db";
  std::string log_level = "info";
  /// CAF scheduler threads; 2 on this 2-core machine (CAF's default is 4).
  size_t worker_threads = 2;
  /// SIGTERM: how long in-flight requests may take to finish, then the flush.
  int shutdown_drain_ms = 10'000;
  int shutdown_flush_ms = 10'000;
  /// Secret kept for the payment webhook issue; empty = webhooks answer 503.
  std::string webhook_secret;
  /// The generation provider and its breaker (app/generation_settings.cpp).
  provider_config provider;
  /// Cluster mode and this node's place in it (app/cluster_settings.cpp).
  cluster_config cluster;
  /// Cluster routing: the forwarder and the internal listener's limits
  /// (app/forwarding_settings.cpp).
  forwarding_config forwarding;
  internal_listener_config internal_listener;

  // create-user / mint-token arguments.
  std::string user_id;
  std::string email;
  std::string phone;
  int token_ttl_s = 900;
};

/// Either settings or a message saying exactly what is wrong (exit 2).
struct settings_result {
  std::optional<settings> value;
  std::string error;
  bool help_requested = false;
  std::string help_text;
};

settings_result load_settings(int argc, char** argv);

} // namespace tally
