#pragma once
// The HTTP front door: a Beast HTTP/1.1 server on its own Asio threads.
// app/ builds one, start()s it, and on SIGTERM calls, in this order:
// stop_accepting() -> drain() -> (actors flush) -> stop().
// Beast and Asio stay behind the pimpl, out of app/'s translation units.
#include <chrono>
#include <cstdint>
#include <memory>

#include "http/http_config.hpp"

namespace tally {

class gateway;
class http_handler;
class metrics;

/// The listening server: acceptor, sessions and the Asio threads.
class http_server {
public:
  /// `gate` and `registry` must outlive the server.
  http_server(const http_config& config, gateway& gate, metrics& registry);
  /// A listener with other request logic (the cluster's internal port).
  http_server(const http_config& config, std::shared_ptr<http_handler> logic);
  ~http_server();

  http_server(const http_server&) = delete;
  http_server& operator=(const http_server&) = delete;

  /// Binds and listens (std::runtime_error naming the address if that
  /// fails, e.g. the port is taken), then starts config.io_threads threads.
  void start();

  /// The bound port (config.port may be 0 = ephemeral). 0 before start().
  uint16_t port() const;

  /// Closes the listening socket; open connections keep being served, and
  /// their answers from now on carry Connection: close.
  void stop_accepting();

  /// Waits until no request is in flight (true) or `max` has passed (false).
  bool drain(std::chrono::milliseconds max);

  /// Closes every connection and joins the threads. Idempotent.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tally
