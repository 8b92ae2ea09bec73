#pragma once
// One HTTP/1.1 connection. The session only reads, writes and keeps time
// (Beast advanced-server style); what to answer is request_handler's job.
//
//   read_request ──(idle_timeout: first bytes of the next request)──▶
//   read_rest ──(read_timeout: the whole request)──▶ on_header
//   [──▶ "100 Continue" if asked] ──▶ read_body ──▶ on_read
//   on_read ──▶ request_handler::handle ──(reply, or request_deadline)──▶
//   on_response ──▶ write ──▶ on_write ──▶ read_request | close
//
// One request in flight per connection: the next is not read until the
// answer is written (no pipelining queue to bound). Unreadable requests
// (bad HTTP, too large, a body framing other than Content-Length or one
// final chunked) are answered 400/413/431/501, then the connection is
// closed after a short lingering read so the client sees the answer.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/parser.hpp>

#include "http/http_config.hpp"
#include "http/request_context.hpp"
#include "http/request_handler.hpp"

namespace tally {

/// Lets replies from foreign threads reach a session only while the server's
/// io_context exists: stop() closes it under the lock before tearing down.
struct reply_gate {
  std::mutex mutex;
  bool open = true;
};

/// What all sessions of one server share.
struct server_state {
  server_state(const http_config& settings, std::shared_ptr<request_handler> logic)
    : config(settings), handler(std::move(logic)) {}

  const http_config config;
  std::shared_ptr<request_handler> handler;
  std::shared_ptr<reply_gate> gate = std::make_shared<reply_gate>();

  /// Set by stop_accepting(): answers carry Connection: close from now on.
  std::atomic<bool> stopping{false};
  std::atomic<size_t> connections{0};

  /// Requests read and not yet fully answered (for drain()).
  std::atomic<size_t> in_flight{0};
  std::mutex drain_mutex;
  std::condition_variable drained;

  void request_started() { in_flight.fetch_add(1, std::memory_order_relaxed); }
  void request_finished();
};

/// One accepted connection; owned by its pending Asio operations.
class session : public std::enable_shared_from_this<session> {
public:
  session(boost::asio::ip::tcp::socket socket, server_state& state);
  ~session();

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  void start();

private:
  void read_request();
  void on_first_bytes(boost::beast::error_code ec, size_t bytes);
  void read_rest();
  void on_header(boost::beast::error_code ec, size_t bytes);
  void read_body();
  void on_read(boost::beast::error_code ec, size_t bytes);
  void dispatch_request();
  void on_deadline(boost::beast::error_code ec, uint64_t generation);
  void on_response(http_response response, uint64_t generation);
  void write(http_response response, bool close_after);
  void on_write(boost::beast::error_code ec, bool close_after);
  /// Answers an unreadable or wrongly framed request, then closes: nothing
  /// after it on this connection is parsed.
  void reject(problem_code code, std::string_view detail = {});
  void linger();
  void on_linger(boost::beast::error_code ec, size_t bytes);
  void close();

  server_state& state_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  boost::asio::steady_timer deadline_;
  std::shared_ptr<request_context> in_flight_;
  /// The peer's address (canonical_ip), read once when the connection is
  /// accepted; empty if the socket could not tell.
  std::string peer_ip_;
  http_response response_;

  bool first_request_ = true;
  bool request_keep_alive_ = false;
  unsigned request_version_ = 11;
  /// Counts requests on this connection; a stale deadline or reply is ignored.
  uint64_t generation_ = 0;
  /// This connection holds one unit of server_state::in_flight.
  bool counted_ = false;
  size_t lingered_bytes_ = 0;
};

} // namespace tally
