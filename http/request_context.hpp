#pragma once
// Everything one request carries through the pipeline and into its
// endpoint: the parsed request, its id, route match, caller, body and key.
// Shared (shared_ptr) because an endpoint answers later, from the thread
// that delivers the gateway's reply. The answer is given exactly once:
// whichever of reply and deadline comes first wins; the other is dropped.
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <nlohmann/json.hpp>

#include "http/problem.hpp"
#include "http/router.hpp"
#include "protocols/auth.hpp"
#include "protocols/outcome.hpp"
#include "protocols/uuid.hpp"

namespace tally {

namespace http = boost::beast::http;
using http_request = http::request<http::string_body>;
using http_response = http::response<http::string_body>;

/// Receives the one finished response of a request, on any thread.
using response_sink = std::function<void(http_response)>;

class request_handler;

/// A request being answered, as its session sees it (http/http_handler.hpp).
class in_flight_request {
public:
  virtual ~in_flight_request() = default;
  /// The request deadline passed without an answer: answer 503 now (a later
  /// answer is dropped).
  virtual void expire() = 0;
};

/// One request in flight (see the file comment).
struct request_context final : in_flight_request {
  /// `owner` is kept alive until the context is gone: a late gateway reply
  /// may finish the request after the server itself has stopped.
  request_context(std::shared_ptr<request_handler> owner, http_request message, response_sink sink);

  request_context(const request_context&) = delete;
  request_context& operator=(const request_context&) = delete;

  request_handler& handler;
  http_request request;
  std::string request_id;
  std::chrono::steady_clock::time_point started;

  route_match match;
  std::string_view query;
  /// The Origin header when it is an allowed CORS origin, else empty.
  std::string_view cors_origin;
  /// The client's address: the socket's peer, or with trust_forwarded_for
  /// the first X-Forwarded-For entry (http/client_ip.hpp).
  std::string client_ip;
  /// The user and session of a verified access token (auth_kind::user).
  /// Qualified: the member shares the type's name.
  std::optional<tally::caller> caller;
  /// The {user_id} path parameter, parsed.
  std::optional<uuid> path_user;
  /// The {tenant_id} path parameter, parsed.
  std::optional<uuid> path_tenant;
  /// The body of a body_kind::json endpoint (a JSON object).
  nlohmann::json body;
  /// The unquoted Idempotency-Key of an idempotent endpoint.
  std::string idempotency_key;

  /// Sends `response` plus the common headers, unless already answered.
  void answer(http_response response);

  /// A JSON response; `replayed` adds Idempotent-Replayed: true.
  void answer_json(http::status status, std::string body, bool replayed = false);

  /// A response without a body (204).
  void answer_empty(http::status status);

  /// What the gateway needs to know about this request (limits, audit log).
  request_origin origin() const { return {request_id, client_ip}; }

  /// A problem+json response. UNAUTHENTICATED, and every 401 of an endpoint
  /// that takes a bearer token, adds WWW-Authenticate; 503 and 429 add
  /// Retry-After (retry_after_s, or the configured default when 0).
  void answer_problem(problem_code code, std::string_view detail = {},
                      const std::vector<field_error>& errors = {}, int retry_after_s = 0);

  /// The problem for a domain failure (internal details are only logged).
  void answer_failure(const failure& why);

  /// The request deadline passed without an answer: 503 STORE_UNAVAILABLE.
  void expire() override;

  bool answered() const { return answered_.load(std::memory_order_acquire); }

  /// Runs `step`; an exception escaping it becomes 500 INTERNAL (logged).
  template <class Step>
  void guarded(Step&& step) {
    try {
      step();
    } catch (const std::exception& e) {
      answer_exception(e.what());
    } catch (...) {
      answer_exception("unknown exception");
    }
  }

  /// 500 INTERNAL for an unexpected exception; `what` goes to the log only.
  void answer_exception(const char* what);

private:
  std::shared_ptr<request_handler> owner_;
  std::atomic<bool> answered_{false};
  response_sink sink_;
};

} // namespace tally
