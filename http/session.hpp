#pragma once
// One HTTP/1.1 connection. The session only reads, writes and keeps time
// (Beast advanced-server style); parsing is request_reader's job and what
// to answer request_handler's.
//
//   wait_for_request ──(idle_timeout, or read_timeout on a new connection:
//   the first bytes; the connection is idle, may be evicted)──▶
//   on_first_bytes ──(read_timeout: the whole request)──▶ parse_buffered
//   ⟲ read_more   [header_done: framing, byte budget, "100 Continue"]
//   ──complete──▶ dispatch_request ──▶ request_handler::handle
//   ──(reply, or request_deadline)──▶ on_response ──▶ write ──▶ on_write
//   ──▶ wait_for_request | linger ──▶ close
//
// One request in flight per connection: the next is not read until the
// answer is written (no pipelining queue to bound). Unreadable requests
// (bad HTTP, too large, a body framing other than Content-Length or one
// final chunked, over the byte budget) are answered 400/413/431/501/503,
// then the connection is closed after a short lingering read so the client
// sees the answer. A connection the connection_table refused gets 503 the
// same way without a byte being parsed.
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
#include <boost/beast/core/tcp_stream.hpp>

#include "http/byte_budget.hpp"
#include "http/connection_table.hpp"
#include "http/http_handler.hpp"
#include "http/http_config.hpp"
#include "http/request_context.hpp"
#include "http/request_handler.hpp"
#include "http/request_reader.hpp"

namespace tally {

/// Lets replies from foreign threads reach a session only while the server's
/// io_context exists: stop() closes it under the lock before tearing down.
struct reply_gate {
  std::mutex mutex;
  bool open = true;
};

/// What all sessions of one server share.
struct server_state {
  server_state(const http_config& settings, std::shared_ptr<http_handler> logic)
    : config(settings),
      handler(std::move(logic)),
      table({settings.connections_max, settings.connections_per_ip_max}),
      budget(settings.buffered_bytes_max) {}

  const http_config config;
  std::shared_ptr<http_handler> handler;
  std::shared_ptr<reply_gate> gate = std::make_shared<reply_gate>();

  /// Set by stop_accepting(): answers carry Connection: close from now on.
  std::atomic<bool> stopping{false};
  /// Who holds the connection slots (idle ones are evicted first).
  connection_table table;
  /// Bytes held for requests and responses, all connections together.
  byte_budget budget;
  /// Refused connections still being answered (each briefly holds a socket).
  std::atomic<size_t> refusing{0};

  /// Requests read and not yet fully answered (for drain()).
  std::atomic<size_t> in_flight{0};
  std::mutex drain_mutex;
  std::condition_variable drained;

  void request_started() { in_flight.fetch_add(1, std::memory_order_relaxed); }
  void request_finished();
};

/// One accepted connection; owned by its pending Asio operations.
class session : public std::enable_shared_from_this<session>, public evictable {
public:
  /// `slot` is the connection's place in state.table; 0 = refused (start()
  /// answers 503 and closes).
  session(boost::asio::ip::tcp::socket socket, server_state& state, std::string peer_ip,
          connection_table::slot_id slot);
  ~session() override;

  session(const session&) = delete;
  session& operator=(const session&) = delete;

  void start();
  /// Another connection took this idle one's slot: close on our strand.
  void evict() override;

private:
  void wait_for_request();
  void on_first_bytes(boost::beast::error_code ec, size_t bytes);
  void parse_buffered();
  /// The header is read: refuses a bad framing or a body over the byte
  /// budget; false when the request was answered.
  bool accept_header();
  void read_more();
  void on_more_bytes(boost::beast::error_code ec, size_t bytes);
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
  /// Sets the byte-budget lease to what the connection holds now (taken
  /// without asking: the memory exists).
  void account();

  server_state& state_;
  boost::beast::tcp_stream stream_;
  request_reader reader_;
  budget_lease lease_;
  boost::asio::steady_timer deadline_;
  std::shared_ptr<in_flight_request> in_flight_;
  /// The peer's address (canonical_ip), read once when the connection is
  /// accepted; empty if the socket could not tell.
  std::string peer_ip_;
  const connection_table::slot_id slot_;
  http_response response_;
  /// The body of the request being answered (its memory is held until then).
  size_t request_body_bytes_ = 0;

  bool first_request_ = true;
  bool request_keep_alive_ = false;
  /// HEAD: the answer is a GET's without its body (RFC 9110 §9.3.2).
  bool request_head_ = false;
  unsigned request_version_ = 11;
  /// Counts requests on this connection; a stale deadline or reply is ignored.
  uint64_t generation_ = 0;
  /// This connection holds one unit of server_state::in_flight.
  bool counted_ = false;
  size_t lingered_bytes_ = 0;
};

} // namespace tally
