#include "http/server.hpp"

#include <atomic>
#include <future>
#include <optional>
#include <stdexcept>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "http/client_ip.hpp"
#include "http/request_handler.hpp"
#include "http/session.hpp"
#include "protocols/log.hpp"

namespace tally {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

/// How long stop_accepting() waits for the acceptor to close on its strand.
constexpr std::chrono::milliseconds acceptor_close_wait{2'000};
/// Pending connections the kernel queues for us.
constexpr int listen_backlog = 1024;
/// Refused connections being answered 503 at once (each holds a socket for
/// up to the linger time); more are closed without an answer.
constexpr size_t refusals_max = 256;

} // namespace

struct http_server::impl {
  impl(const http_config& config, std::shared_ptr<http_handler> logic) : state(config, std::move(logic)) {}

  void accept() {
    acceptor->async_accept(net::make_strand(*io), [this](boost::system::error_code ec,
                                                         tcp::socket socket) {
      if (ec == net::error::operation_aborted || !acceptor->is_open()) return;
      if (!ec) {
        admit(std::move(socket));
      } else if (ec == net::error::no_descriptors) {
        log_event(log_level::warn, "accept failed: out of file descriptors");
      }
      accept();
    });
  }

  /// A slot in the connection table (an idle connection may be evicted for
  /// it), or a 503 + Retry-After and close; beyond refusals_max refusals
  /// at once, a close without an answer.
  void admit(tcp::socket socket) {
    boost::system::error_code ec;
    auto peer = socket.remote_endpoint(ec);
    auto ip = ec ? std::string() : canonical_ip(peer.address().to_string());
    auto decision = state.table.admit(ip);
    if (decision.verdict == admission::refused_total || decision.verdict == admission::refused_ip) {
      if (state.refusing.load(std::memory_order_relaxed) >= refusals_max) {
        socket.close(ec);
        return;
      }
      // The first refusal and every 1024th after it are logged: a flood of
      // connections must not become a flood of log lines.
      auto count = refusals.fetch_add(1, std::memory_order_relaxed) + 1;
      if (count == 1 || count % 1024 == 0)
        log_event(log_level::warn, "connections refused (503): all slots busy",
                  {{"client_ip", std::string_view(ip)},
                   {"per_ip_cap", decision.verdict == admission::refused_ip},
                   {"refused_so_far", static_cast<int64_t>(count)}});
    }
    std::make_shared<session>(std::move(socket), state, std::move(ip), decision.slot)->start();
  }

  // Declared first: sessions refer to it until the io_context is gone.
  server_state state;
  std::optional<net::io_context> io;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  uint16_t port = 0;
  bool stopped = false;
  std::atomic<uint64_t> refusals{0};
};

http_server::http_server(const http_config& config, gateway& gate, metrics& registry)
  : impl_(std::make_unique<impl>(config, std::make_shared<request_handler>(config, gate, registry))) {}

http_server::http_server(const http_config& config, std::shared_ptr<http_handler> logic)
  : impl_(std::make_unique<impl>(config, std::move(logic))) {}

http_server::~http_server() {
  stop();
}

void http_server::start() {
  auto& s = *impl_;
  const auto& config = s.state.config;
  s.io.emplace(config.io_threads);
  boost::system::error_code ec;
  auto address = net::ip::make_address(config.host, ec);
  if (ec) throw std::runtime_error("invalid listen address '" + config.host + "'");
  tcp::endpoint where{address, config.port};
  s.acceptor.emplace(net::make_strand(*s.io));
  auto fail = [&](const char* step) {
    throw std::runtime_error(std::string("cannot ") + step + " " + config.host + ":" +
                             std::to_string(config.port) + ": " + ec.message());
  };
  s.acceptor->open(where.protocol(), ec);
  if (ec) fail("open a socket for");
  s.acceptor->set_option(net::socket_base::reuse_address(true), ec);
  if (ec) fail("set SO_REUSEADDR on");
  s.acceptor->bind(where, ec);
  if (ec) fail("bind");
  s.acceptor->listen(listen_backlog, ec);
  if (ec) fail("listen on");
  s.port = s.acceptor->local_endpoint().port();
  net::post(s.acceptor->get_executor(), [&s] { s.accept(); });
  for (int i = 0; i < config.io_threads; ++i) s.threads.emplace_back([&s] { s.io->run(); });
}

uint16_t http_server::port() const {
  return impl_->port;
}

void http_server::stop_accepting() {
  auto& s = *impl_;
  s.state.stopping.store(true);
  if (!s.acceptor || s.stopped) return;
  auto closed = std::make_shared<std::promise<void>>();
  auto done = closed->get_future();
  net::post(s.acceptor->get_executor(), [&s, closed] {
    boost::system::error_code ignored;
    s.acceptor->close(ignored);
    closed->set_value();
  });
  done.wait_for(acceptor_close_wait);
}

bool http_server::drain(std::chrono::milliseconds max) {
  auto& state = impl_->state;
  std::unique_lock<std::mutex> lock(state.drain_mutex);
  return state.drained.wait_for(lock, max, [&] {
    return state.in_flight.load(std::memory_order_acquire) == 0;
  });
}

void http_server::stop() {
  auto& s = *impl_;
  if (s.stopped) return;
  s.stopped = true;
  s.state.stopping.store(true);
  {
    // From here no reply from another thread touches the io_context.
    std::lock_guard<std::mutex> lock(s.state.gate->mutex);
    s.state.gate->open = false;
  }
  if (!s.io) return;
  s.io->stop();
  for (auto& thread : s.threads) thread.join();
  s.threads.clear();
  // Destroying the io_context destroys every pending handler, and with them
  // the sessions and their sockets: all connections close here.
  s.acceptor.reset();
  s.io.reset();
}

} // namespace tally
