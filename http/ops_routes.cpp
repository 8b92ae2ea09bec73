#include "http/ops_routes.hpp"

#include "http/request_context.hpp"
#include "http/request_handler.hpp"

namespace tally {

namespace {

constexpr std::string_view prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

} // namespace

void get_health(const std::shared_ptr<request_context>& context) {
  context->answer_json(http::status::ok, R"({"status":"ok"})");
}

void get_readiness(const std::shared_ptr<request_context>& context) {
  const auto& health = context->handler.gate().health();
  bool store_ok = health.reachable.load(std::memory_order_relaxed);
  bool backlog_ok = !health.backlog_full();
  bool ready = store_ok && backlog_ok;
  std::string body = R"({"status":")";
  body += ready ? "ready" : "not_ready";
  body += R"(","checks":{"store":")";
  body += store_ok ? "ok" : "unreachable";
  body += R"(","backlog":")";
  body += backlog_ok ? "ok" : "full";
  body += R"("}})";
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
