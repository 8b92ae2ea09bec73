#include "http/ops_routes.hpp"

#include "http/request_context.hpp"
#include "http/request_handler.hpp"
#include "protocols/json_writer.hpp"

namespace tally {

namespace {

constexpr std::string_view prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

} // namespace

void get_health(const std::shared_ptr<request_context>& context) {
  context->answer_json(http::status::ok, R"({"status":"ok"})");
}

void get_readiness(const std::shared_ptr<request_context>& context) {
  const auto& health = context->handler.gate().health();
  bool reachable = health.reachable.load(std::memory_order_relaxed);
  bool committing = !health.commits_failing.load(std::memory_order_relaxed);
  bool backlog_ok = !health.backlog_full();
  const auto* cluster = context->handler.config().cluster;
  auto cluster_problem = cluster != nullptr ? cluster->readiness_problem() : std::string{};
  bool ready = reachable && committing && backlog_ok && cluster_problem.empty();
  std::string body;
  json_writer json(body);
  json.begin_object()
    .key("status").string(ready ? "ready" : "not_ready")
    .key("checks").begin_object()
    .key("store").string(!reachable ? "unreachable" : committing ? "ok" : "failing")
    .key("backlog").string(backlog_ok ? "ok" : "full");
  // Only a cluster node that is not ready names the check (a single node's
  // answer stays as it was): "joining" or "leases_expired".
  if (!cluster_problem.empty()) json.key("cluster").string(cluster_problem);
  json.end_object()
    .end_object();
  context->answer_json(ready ? http::status::ok : http::status::service_unavailable,
                       std::move(body));
}

void get_metrics(const std::shared_ptr<request_context>& context) {
  http_response response{http::status::ok, 11};
  response.set(http::field::content_type, prometheus_content_type);
  response.body() = context->handler.registry().render();
  context->answer(std::move(response));
}

} // namespace tally
