#include "app/cluster_node.hpp"

#include <utility>

#include "caf/actor_system.hpp"
#include "caf/scoped_actor.hpp"

#include "persistence/postgres_store.hpp"
#include "protocols/cluster.hpp"
#include "protocols/log.hpp"

namespace tally {

cluster_node::cluster_node(const cluster_config& config, const std::string& db_url,
                           const std::string& http_address, metrics& process_metrics)
  : config_(config),
    db_url_(db_url),
    map_(config.node_id, config.advertise_host + ":" + std::to_string(config.internal_port)),
    stats_(process_metrics),
    store_(open_postgres_lease_store(db_url, config.lease_ttl)) {
  node_registration node{config.node_id, http_address,
                         config.advertise_host + ":" + std::to_string(config.internal_port), config.lease_ttl};
  holder_ = store_->join(node, shard_count);
  log_event(log_level::info, "joined the cluster",
            {{"node_id", std::string_view(holder_.node_id)},
             {"incarnation", holder_.incarnation},
             {"lease_ttl_ms", static_cast<int64_t>(config.lease_ttl.count())}});
}

cluster_node::~cluster_node() = default;

store_factory cluster_node::fenced_stores() const {
  return [url = db_url_, holder = holder_]() -> std::unique_ptr<store> {
    auto connection = std::make_unique<postgres_store>(url);
    connection->fence_activations(holder);
    return connection;
  };
}

void cluster_node::start(caf::actor_system& system, registry_actor registry) {
  keeper_ = spawn_lease_keeper(system, std::move(store_), map_, std::move(registry), &stats_,
                               lease_keeper_settings{config_.lease_ttl});
}

void cluster_node::stop_serving() {
  map_.close();
}

bool cluster_node::leave(caf::actor_system& system, std::chrono::milliseconds max) {
  if (!keeper_) return false;
  bool left = false;
  caf::scoped_actor caller{system};
  caller->request(keeper_, max, lease_leave_atom_v)
    .receive([&](bool recorded) { left = recorded; },
             [&](caf::error& err) {
               log_event(log_level::error, "leaving the cluster failed",
                         {{"error", std::string_view(system.render(err))}});
             });
  caller->send_exit(keeper_, caf::exit_reason::user_shutdown);
  keeper_ = nullptr;
  return left;
}

} // namespace tally
