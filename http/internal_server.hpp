#pragma once
// The cluster's internal listener (docs/CLUSTER-FORWARDING.md): a second
// Beast listener on TALLY_ADVERTISE_HOST:TALLY_INTERNAL_PORT, on the same
// server pieces as the public one (http/server.cpp: sessions, connection
// table, byte budget, deadlines), with one route:
//
//   POST /internal/v1/commands, body = msgpack envelope
//     X-Tally-Cluster-Auth wrong or missing ─▶ 401 (checked before decoding)
//     not msgpack of an envelope            ─▶ 400
//     ──▶ arriving_commands::serve (this node only, never forwarded again)
//         not_shard_owner                   ─▶ 421
//         anything else                     ─▶ 200 msgpack reply_body
//                                              (the result or the failure)
//     no answer by the request deadline     ─▶ 503
//   any other path 404, any other method 405; problem+json bodies.
#include <cstdint>
#include <memory>
#include <string>

#include "http/cluster_http_config.hpp"

namespace tally {

class arriving_commands;
class forwarding_metrics;
class http_handler;
class http_server;

/// The request logic alone (tests drive it without sockets). `door` and
/// `stats` (may be null) outlive it.
std::shared_ptr<http_handler> make_internal_handler(std::string auth_key, arriving_commands& door,
                                                    forwarding_metrics* stats);

class internal_server {
public:
  /// `auth_key` is cluster_auth_key(the JWT secret).
  internal_server(const internal_listener_config& config, std::string auth_key, arriving_commands& door,
                  forwarding_metrics* stats);
  ~internal_server();

  internal_server(const internal_server&) = delete;
  internal_server& operator=(const internal_server&) = delete;

  /// Binds and listens (std::runtime_error naming the address on failure).
  void start();
  /// The bound port (config.port 0 = any free one); 0 before start().
  uint16_t port() const;
  /// Stop accepting, wait up to `max` for arrivals in flight, close all.
  void stop(std::chrono::milliseconds max);

private:
  std::unique_ptr<http_server> server_;
};

} // namespace tally
