// tally: start-up and shutdown order, in one readable sequence.
//
//   start:  settings -> log level -> store migrated -> metrics -> CAF system
//           -> actor runtime (writer, readers, registry) -> HTTP server
//   stop:   (SIGTERM/SIGINT) stop accepting -> drain in-flight requests
//           -> actors.shutdown: close the gateway, every entity handles what
//              it was sent, the writer commits it, entities, registry,
//              readers and writer quit (each store connection closes with
//              its actor)
//           (cluster: the internal listener drains and closes, forwards in
//            flight complete, before the actors stop)
//           -> stop HTTP -> exit 0
//   HTTP stops last: a completion an actor delivers during its shutdown is
//   posted to an HTTP thread, which must still be there to run it.
//   Cluster mode (app/cluster_node.hpp) adds: join after the metrics, the
//   lease keeper after the runtime; on stop, serve no shard before the
//   actors' shutdown and leave (release every lease) after it.
#include <csignal>
#include <iostream>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "actors/runtime.hpp"
#include "app/cluster_node.hpp"
#include "app/cluster_routing.hpp"
#include "app/commands.hpp"
#include "app/settings.hpp"
#include "http/provider_client.hpp"
#include "http/server.hpp"
#include "persistence/store.hpp"
#include "protocols/caf_types.hpp"
#include "protocols/log.hpp"
#include "protocols/metrics.hpp"
#include "protocols/secrets.hpp"

namespace tally {

namespace {

constexpr int exit_config_error = 2;
constexpr int exit_start_failure = 1;

log_level parse_level(const std::string& name) {
  if (name == "debug") return log_level::debug;
  if (name == "warn") return log_level::warn;
  if (name == "error") return log_level::error;
  return log_level::info;
}

/// Dev mode without a configured secret: a random one per start, so tokens
/// from an earlier run stop working (API.md, Configuration).
constexpr size_t dev_secret_bytes = 32;

/// The code pepper when none is configured: a key derived from the JWT
/// secret (HMAC with a fixed label), so one secret is enough to run, and a
/// leaked code hash is useless without it.
std::string derive_code_pepper(const std::string& jwt_secret) {
  return hmac_sha256(jwt_secret, "tally code pepper v1");
}

/// Blocks SIGTERM and SIGINT in this thread and every thread it starts later,
/// so they arrive only through wait_for_stop_signal().
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

int wait_for_stop_signal(const sigset_t& signals) {
  int received = 0;
  sigwait(&signals, &received);
  return received;
}

/// Checks the store once before anything starts, so a wrong URL or a missing
/// server is a clear start-up error rather than a stream of 503s.
bool prepare_store(const settings& s) {
  try {
    open_store(s.db_url)->migrate();
    return true;
  } catch (const std::invalid_argument& e) {
    log_event(log_level::error, "bad db setting", {{"error", e.what()}});
  } catch (const store_error& e) {
    log_event(log_level::error, "store unavailable at start", {{"error", e.what()}});
  }
  return false;
}

/// SIGTERM: the last lease statement may take this long.
constexpr std::chrono::milliseconds cluster_leave_max{5'000};

/// TALLY_CLUSTER=1: joins the cluster in the store (0), or the exit code.
int join_cluster(settings& s, metrics& process_metrics, std::unique_ptr<cluster_node>& node) {
  if (!s.cluster.enabled) return 0;
  try {
    auto http_address = s.cluster.advertise_host + ":" + std::to_string(s.http.port);
    node = std::make_unique<cluster_node>(s.cluster, s.db_url, http_address, process_metrics);
    s.runtime.shards = &node->directory();
    return 0;
  } catch (const shard_count_mismatch& e) {
    log_event(log_level::error, "another shard count", {{"error", e.what()}});
    std::cerr << "tally: " << e.what() << "\n";
    return exit_config_error;
  } catch (const std::exception& e) {
    log_event(log_level::error, "cannot join the cluster", {{"error", e.what()}});
    return exit_start_failure;
  }
}

int serve(settings s) {
  if (s.http.jwt_secret.empty()) {
    if (!s.http.dev) {
      log_event(log_level::error, "TALLY_JWT_SECRET is required outside dev mode");
      return exit_config_error;
    }
    s.http.jwt_secret = to_hex(random_bytes(dev_secret_bytes));
  }
  if (s.runtime.auth.code_pepper.empty()) s.runtime.auth.code_pepper = derive_code_pepper(s.http.jwt_secret);
  if (!prepare_store(s)) return exit_start_failure;

  auto signals = block_stop_signals();
  metrics process_metrics;

  // Cluster mode: join before anything serves (app/cluster_node.hpp). Declared
  // before the actor system, which must stop the lease keeper (leave) first.
  std::unique_ptr<cluster_node> node;
  auto cluster_joined = join_cluster(s, process_metrics, node);
  if (cluster_joined != 0) return cluster_joined;
  standalone_cluster_status alone{s.cluster.node_id, s.http.host + ":" + std::to_string(s.http.port)};
  s.http.cluster = node ? static_cast<const cluster_status*>(&node->status()) : &alone;

  caf::actor_system_config caf_config;
  register_caf_types(caf_config);
  caf_config.set("scheduler.max-threads", s.worker_threads);
  // Work stealing is very slow at fanning out to many actors on 2 cores
  // (shutdown with 200 k users: 5 s + 21 s to exit, against 2 s + 2.6 s with
  // sharing) and sharing is faster for Asio -> actor sends (CAF-0.17.md §4).
  caf_config.set("scheduler.policy", caf::atom("sharing"));
  caf_config.set("logger.console", caf::atom("none"));
  caf::actor_system system{caf_config};

  auto db_url = s.db_url;
  // The provider outlives the actors that submit to it (destroyed after them).
  s.runtime.provider = make_generation_provider(s.provider);
  // Cluster mode only: the forwarder becomes the runtime's remote door.
  auto routing = make_cluster_routing(s, process_metrics);
  store_factory stores = [db_url] { return open_store(db_url); };
  if (node) stores = node->fenced_stores();
  runtime actors{system, s.runtime, stores, process_metrics};
  // Generations a crash left active are failed and released before anyone
  // is served. (A cluster node fails them as each user activates on its new
  // owner: activation interrupts what it loads as active.)
  if (!node) actors.recover_generations(std::chrono::milliseconds(s.shutdown_flush_ms));
  http_server server{s.http, actors.gate(), process_metrics};
  try {
    if (routing) routing->listen(actors.arrivals());
    // Leases only once the other nodes can reach this one with the commands
    // of the shards it takes.
    if (node) node->start(system, actors.registry());
    server.start();
  } catch (const std::exception& e) {
    log_event(log_level::error, "cannot listen", {{"error", e.what()}});
    if (node) node->stop_serving();
    if (routing) routing->stop(std::chrono::milliseconds(0));
    actors.shutdown(std::chrono::milliseconds(s.shutdown_flush_ms));
    if (node) node->leave(system, cluster_leave_max);
    s.runtime.provider->stop();
    s.runtime.provider.reset();
    return exit_start_failure;
  }
  log_event(log_level::info, "listening",
            {{"host", std::string_view(s.http.host)},
             {"port", static_cast<int64_t>(server.port())},
             {"store", std::string_view(s.db_url.rfind("sqlite:", 0) == 0 ? "sqlite" : "postgres")},
             {"ack", std::string_view(s.runtime.ack == ack_mode::commit ? "commit" : "memory")},
             {"dev", s.http.dev}});

  int signal = wait_for_stop_signal(signals);
  log_event(log_level::info, "stopping", {{"signal", static_cast<int64_t>(signal)}});

  server.stop_accepting();
  bool drained = server.drain(std::chrono::milliseconds(s.shutdown_drain_ms));
  // Cluster: serve no shard from now on; once everything committed, hand
  // every lease back at once so the other nodes claim them on their next tick.
  if (node) node->stop_serving();
  if (routing) routing->stop(std::chrono::milliseconds(s.shutdown_drain_ms));
  bool flushed = actors.shutdown(std::chrono::milliseconds(s.shutdown_flush_ms));
  if (node) node->leave(system, cluster_leave_max);
  server.stop();
  // No provider answer may reach an actor handle once the actor system goes:
  // its thread stops here, and the runtime (destroyed before the system)
  // holds the last reference.
  s.runtime.provider->stop();
  s.runtime.provider.reset();
  log_event(flushed ? log_level::info : log_level::error, "stopped",
            {{"drained", drained}, {"flushed", flushed}});
  return 0;
}

} // namespace

} // namespace tally

int main(int argc, char** argv) {
  using namespace tally;
  auto loaded = load_settings(argc, argv);
  if (loaded.help_requested) {
    std::cout << loaded.help_text;
    return 0;
  }
  if (!loaded.value) {
    std::cerr << "tally: " << loaded.error << "\n";
    return exit_config_error;
  }
  auto& s = *loaded.value;
  set_log_level(parse_level(s.log_level));
  switch (s.command) {
    case app_command::migrate: return run_migrate(s);
    case app_command::create_user: return run_create_user(s);
    case app_command::mint_token: return run_mint_token(s);
    case app_command::serve: break;
  }
  try {
    return serve(std::move(s));
  } catch (const std::exception& e) {
    log_event(log_level::error, "fatal", {{"error", e.what()}});
    return exit_start_failure;
  }
}
