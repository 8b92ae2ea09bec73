#pragma once
// The request logic as a function of the request (Beast advanced-server
// style): no sockets, no timers. The session hands in a parsed request and a
// sink; exactly one response comes out, now or later. Checks run in the
// order API.md's clients rely on:
//
//   client IP -> ambiguous header fields (400) -> method (501)
//   -> route (404/405) -> CORS preflight (OPTIONS) -> auth (401)
//   -> path ids (400 INVALID_ID) -> Content-Type (415) -> JSON (400/422)
//   -> Idempotency-Key (400) -> endpoint: validation (422), gateway call
//
// Every response gets X-Request-ID and, for an allowed Origin, the CORS
// headers; every response is counted per route and status and, when enabled,
// written to the access log.
#include <memory>

#include "http/bearer.hpp"
#include "http/cors.hpp"
#include "http/http_handler.hpp"
#include "http/http_config.hpp"
#include "http/jwt_verifier.hpp"
#include "http/request_context.hpp"
#include "http/route_metrics.hpp"
#include "http/router.hpp"
#include "http/web_assets.hpp"
#include "protocols/gateway.hpp"
#include "protocols/metrics.hpp"

namespace tally {

/// Create with std::make_shared: contexts keep their handler alive.
class request_handler : public http_handler, public std::enable_shared_from_this<request_handler> {
public:
  request_handler(const http_config& config, gateway& gate, metrics& registry);

  /// Runs the pipeline; `sink` receives exactly one response (maybe before
  /// this returns, maybe later on a gateway thread). The returned context
  /// lets the caller expire() the request at its deadline. `peer_ip` is the
  /// socket's remote address (see client_ip.hpp).
  std::shared_ptr<request_context> handle(http_request request, response_sink sink,
                                          std::string_view peer_ip = {});

  /// The answer to a request that could not be read completely: 400 (bad
  /// HTTP or framing), 413, 431 or 501 (a transfer coding we do not
  /// implement). `partial` holds the headers when they were read; `detail`
  /// empty = the title.
  http_response reject_unreadable(problem_code code, const http_request* partial,
                                  std::string_view detail = {}) override;

  /// http_handler: handle() for a session.
  std::shared_ptr<in_flight_request> serve(http_request request, response_sink sink,
                                           std::string_view peer_ip) override {
    return handle(std::move(request), std::move(sink), peer_ip);
  }

  /// Adds the common headers, counts, logs. Called once per response by
  /// request_context::answer.
  void finish(request_context& context, http_response& response);

  const http_config& config() const { return config_; }
  gateway& gate() { return gateway_; }
  metrics& registry() { return registry_; }
  const router& routes() const { return router_; }
  const web_assets& web() const { return web_; }

private:
  void run_pipeline(const std::shared_ptr<request_context>& context, std::string_view peer_ip);
  bool authenticate(request_context& context);
  void answer_options(request_context& context);

  http_config config_;
  gateway& gateway_;
  metrics& registry_;
  router router_;
  jwt_verifier jwt_;
  admin_token_check admin_;
  cors_policy cors_;
  route_metrics route_metrics_;
  web_assets web_;
};

} // namespace tally
