#include "http/internal_server.hpp"

#include <atomic>
#include <utility>

#include "http/http_handler.hpp"
#include "http/problem.hpp"
#include "http/server.hpp"
#include "protocols/arriving_commands.hpp"
#include "protocols/cluster_wire.hpp"
#include "protocols/forwarding_metrics.hpp"
#include "protocols/wire.hpp"

namespace tally {

namespace {

constexpr std::string_view problem_content_type = "application/problem+json";

http_response problem_response(problem_code code, std::string_view detail) {
  const auto& info = describe(code);
  http_response response{static_cast<http::status>(info.status), 11};
  response.set(http::field::content_type, problem_content_type);
  if (info.retry_after) response.set(http::field::retry_after, "1");
  response.body() = render_problem(code, detail, {});
  return response;
}

/// One arrival: answered once, by the entity's reply or the deadline.
class arrival final : public in_flight_request {
public:
  explicit arrival(response_sink sink) : sink_(std::move(sink)) {}

  void answer(http_response response) {
    if (answered_.exchange(true, std::memory_order_acq_rel)) return;
    auto sink = std::move(sink_);
    sink(std::move(response));
  }

  void expire() override {
    answer(problem_response(problem_code::shard_unavailable, "The entity did not answer in time"));
  }

private:
  std::atomic<bool> answered_{false};
  response_sink sink_;
};

class internal_handler final : public http_handler {
public:
  internal_handler(std::string key, arriving_commands& door, forwarding_metrics* stats)
    : key_(std::move(key)), door_(door), stats_(stats) {}

  std::shared_ptr<in_flight_request> serve(http_request request, response_sink sink, std::string_view) override {
    auto call = std::make_shared<arrival>(std::move(sink));
    if (request.target() != internal_commands_path) {
      call->answer(problem_response(problem_code::not_found, {}));
      return call;
    }
    if (request.method() != http::verb::post) {
      auto response = problem_response(problem_code::method_not_allowed, {});
      response.set(http::field::allow, "POST");
      call->answer(std::move(response));
      return call;
    }
    // Before a byte of the body is decoded: only a node that holds the
    // cluster's secret may make this one run a command.
    if (!cluster_auth_valid(key_, request.body(), request[cluster_auth_header])) {
      call->answer(problem_response(problem_code::unauthenticated, "Missing or wrong cluster signature"));
      return call;
    }
    auto message = decode_value<envelope>(request.body());
    if (!message) {
      call->answer(problem_response(problem_code::bad_request, "The body is not one command envelope"));
      return call;
    }
    auto done = completion_for(message->command, [call, stats = stats_](reply_body body) {
      auto* why = std::get_if<failure>(&body);
      if (why != nullptr && why->code == error_code::not_shard_owner) {
        if (stats) stats->misdirected.Increment();
        call->answer(problem_response(problem_code::misdirected, why->detail));
        return;
      }
      http_response response{http::status::ok, 11};
      response.set(http::field::content_type, msgpack_content_type);
      response.body() = encode_value(body);
      call->answer(std::move(response));
    });
    door_.serve(std::move(*message), std::move(done));
    return call;
  }

  http_response reject_unreadable(problem_code code, const http_request*, std::string_view detail) override {
    return problem_response(code, detail);
  }

private:
  const std::string key_;
  arriving_commands& door_;
  forwarding_metrics* stats_;
};

http_config listener_settings(const internal_listener_config& config) {
  http_config settings;
  settings.host = config.host;
  settings.port = config.port;
  settings.body_bytes_max = config.body_bytes_max;
  settings.connections_max = config.connections_max;
  // Every peer may share one address (loopback, one host): no per-IP cap
  // below the total.
  settings.connections_per_ip_max = config.connections_max;
  settings.request_deadline = config.request_deadline;
  settings.buffered_bytes_max = std::max(settings.buffered_bytes_max, 4 * settings.one_request_bytes_max());
  settings.access_log = false;
  return settings;
}

} // namespace

std::shared_ptr<http_handler> make_internal_handler(std::string auth_key, arriving_commands& door,
                                                    forwarding_metrics* stats) {
  return std::make_shared<internal_handler>(std::move(auth_key), door, stats);
}

internal_server::internal_server(const internal_listener_config& config, std::string auth_key,
                                 arriving_commands& door, forwarding_metrics* stats)
  : server_(std::make_unique<http_server>(listener_settings(config),
                                          make_internal_handler(std::move(auth_key), door, stats))) {}

internal_server::~internal_server() = default;

void internal_server::start() {
  server_->start();
}

uint16_t internal_server::port() const {
  return server_->port();
}

void internal_server::stop(std::chrono::milliseconds max) {
  server_->stop_accepting();
  server_->drain(max);
  server_->stop();
}

} // namespace tally
