#include "app/cluster_routing.hpp"

#include "app/settings.hpp"
#include "http/cluster_forwarder.hpp"
#include "http/internal_server.hpp"
#include "protocols/cluster_wire.hpp"
#include "protocols/forwarding_metrics.hpp"
#include "protocols/log.hpp"

namespace tally {

cluster_routing::cluster_routing(const settings& s, metrics& process_metrics)
  : stats_(std::make_unique<forwarding_metrics>(process_metrics)),
    forwarder_(std::make_unique<cluster_forwarder>(s.forwarding, *s.runtime.shards,
                                                   cluster_auth_key(s.http.jwt_secret), stats_.get())),
    settings_(s) {}

cluster_routing::~cluster_routing() {
  stop(std::chrono::milliseconds(0));
}

remote_commands& cluster_routing::remote() {
  return *forwarder_;
}

void cluster_routing::listen(arriving_commands& door) {
  auto config = settings_.internal_listener;
  config.host = settings_.cluster.advertise_host;
  config.port = static_cast<uint16_t>(settings_.cluster.internal_port);
  listener_ = std::make_unique<internal_server>(config, cluster_auth_key(settings_.http.jwt_secret), door,
                                                stats_.get());
  listener_->start();
  log_event(log_level::info, "internal listener",
            {{"host", std::string_view(config.host)}, {"port", static_cast<int64_t>(listener_->port())}});
}

void cluster_routing::stop(std::chrono::milliseconds drain_max) {
  if (stopped_) return;
  stopped_ = true;
  if (listener_) listener_->stop(drain_max);
  forwarder_->stop();
}

std::unique_ptr<cluster_routing> make_cluster_routing(settings& s, metrics& process_metrics) {
  if (s.runtime.shards == nullptr) return nullptr;
  auto routing = std::make_unique<cluster_routing>(s, process_metrics);
  s.runtime.remote = &routing->remote();
  return routing;
}

} // namespace tally
