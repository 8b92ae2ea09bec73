#pragma once
// What a server's sessions call (http/session.cpp): the request logic of one
// listener. The public API's request_handler is one; the cluster's internal
// listener (http/internal_server.cpp) is another, on the same sessions,
// connection table, byte budget and deadlines.
#include <memory>
#include <string_view>

#include "http/request_context.hpp"

namespace tally {

class http_handler {
public:
  virtual ~http_handler() = default;

  /// Answers `request` through `sink`, exactly once, now or later from any
  /// thread. `peer_ip` is the socket's remote address.
  virtual std::shared_ptr<in_flight_request> serve(http_request request, response_sink sink,
                                                   std::string_view peer_ip) = 0;

  /// The answer to a request that could not be read completely (400, 413,
  /// 431, 501, 503); `partial` holds its headers when they were read.
  virtual http_response reject_unreadable(problem_code code, const http_request* partial,
                                          std::string_view detail) = 0;
};

} // namespace tally
