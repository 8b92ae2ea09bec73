#include "http/session.hpp"

#include "http/client_ip.hpp"
#include "http/header_checks.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace tally {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {

/// Bytes asked for by the read that waits for a keep-alive request's start.
constexpr size_t read_chunk_bytes = 16 * 1024;
/// After an unreadable request the rest of the client's upload is read and
/// dropped for at most this long / this much, so closing does not reset the
/// connection before the client has read our error (a "lingering close").
constexpr std::chrono::milliseconds linger_timeout{2'000};
constexpr size_t linger_bytes_max = 1024 * 1024;

bool is_http_parse_error(const beast::error_code& ec) {
  return &ec.category() == &http::make_error_code(http::error::bad_target).category();
}

} // namespace

void server_state::request_finished() {
  if (in_flight.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard<std::mutex> lock(drain_mutex);
    drained.notify_all();
  }
}

session::session(tcp::socket socket, server_state& state)
  : state_(state),
    stream_(std::move(socket)),
    // Bounds what one connection can make us buffer: a full request plus
    // one read's worth of the next.
    buffer_(state.config.header_bytes_max + state.config.body_bytes_max + read_chunk_bytes),
    deadline_(stream_.get_executor()) {
  state_.connections.fetch_add(1, std::memory_order_relaxed);
  beast::error_code ec;
  auto peer = stream_.socket().remote_endpoint(ec);
  if (!ec) peer_ip_ = canonical_ip(peer.address().to_string());
}

session::~session() {
  if (counted_) state_.request_finished();
  state_.connections.fetch_sub(1, std::memory_order_relaxed);
}

void session::start() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] { self->read_request(); });
}

void session::read_request() {
  parser_.emplace();
  parser_->body_limit(state_.config.body_bytes_max);
  parser_->header_limit(static_cast<uint32_t>(state_.config.header_bytes_max));
  if (first_request_ || buffer_.size() > 0) {
    // A new connection, or a pipelined request already buffered: the whole
    // request is due within read_timeout.
    first_request_ = false;
    read_rest();
    return;
  }
  // Keep-alive: the next request may take up to idle_timeout to start.
  stream_.expires_after(state_.config.idle_timeout);
  stream_.async_read_some(buffer_.prepare(read_chunk_bytes),
                          [self = shared_from_this()](beast::error_code ec, size_t bytes) {
                            self->on_first_bytes(ec, bytes);
                          });
}

void session::on_first_bytes(beast::error_code ec, size_t bytes) {
  if (ec) return close();
  buffer_.commit(bytes);
  read_rest();
}

void session::read_rest() {
  stream_.expires_after(state_.config.read_timeout);
  http::async_read_header(stream_, buffer_, *parser_,
                          [self = shared_from_this()](beast::error_code ec, size_t bytes) {
                            self->on_header(ec, bytes);
                          });
}

void session::on_header(beast::error_code ec, size_t bytes) {
  // The framing is decided before a byte of body is read: a body whose
  // length we might judge differently from a proxy in front of us would
  // let the rest of it pass as a second, smuggled request (RFC 9112 §6.3).
  if (!ec) {
    if (auto refusal = framing_refusal(parser_->get()))
      return reject(refusal->code, refusal->detail);
  }
  if (ec || parser_->is_done()) return on_read(ec, bytes);
  // curl and others wait ~1 s for "100 Continue" before sending a body of
  // more than 1 KiB; say it at once (RFC 9110 §10.1.1) and read on. The
  // read_timeout set in read_rest still bounds the whole request.
  if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
    static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
    net::async_write(stream_, net::buffer(continue_line.data(), continue_line.size()),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->close();
                       self->read_body();
                     });
    return;
  }
  read_body();
}

void session::read_body() {
  http::async_read(stream_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t bytes) {
                     self->on_read(ec, bytes);
                   });
}

void session::on_read(beast::error_code ec, size_t) {
  if (!ec) return dispatch_request();
  if (ec == http::error::body_limit || ec == http::error::buffer_overflow)
    return reject(problem_code::payload_too_large);
  if (ec == http::error::header_limit) return reject(problem_code::headers_too_large);
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return close();
  if (is_http_parse_error(ec)) return reject(problem_code::bad_request);
  // Time-out (slow client) or a socket error: nothing useful to say.
  close();
}

void session::dispatch_request() {
  stream_.expires_never();
  auto request = parser_->release();
  request_keep_alive_ = request.keep_alive();
  request_version_ = request.version();
  state_.request_started();
  counted_ = true;
  auto generation = ++generation_;

  // Called exactly once, maybe on a gateway thread: hop back to this
  // connection's strand, unless the server is already torn down.
  auto sink = [gate = state_.gate, weak = weak_from_this(), generation](http_response response) {
    std::lock_guard<std::mutex> lock(gate->mutex);
    if (!gate->open) return;
    auto self = weak.lock();
    if (!self) return;
    net::post(self->stream_.get_executor(),
              [self, generation, response = std::move(response)]() mutable {
                self->on_response(std::move(response), generation);
              });
  };
  in_flight_ = state_.handler->handle(std::move(request), std::move(sink), peer_ip_);
  // The deadline lives here, not in CAF (DESIGN.md: CAF 0.17 keeps every
  // request time-out in its clock until it fires). The wait also keeps this
  // session alive while the reply is outstanding, so it is armed even when
  // the request is already answered: the sink only holds a weak reference,
  // and without the wait the session could die before the sink on another
  // thread locks it, dropping the response (seen under load). on_response,
  // posted to this strand, runs after us and cancels it.
  deadline_.expires_after(state_.config.request_deadline);
  deadline_.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
    self->on_deadline(ec, generation);
  });
}

void session::on_deadline(beast::error_code ec, uint64_t generation) {
  if (ec == net::error::operation_aborted || generation != generation_ || !in_flight_) return;
  in_flight_->expire();
}

void session::on_response(http_response response, uint64_t generation) {
  if (generation != generation_ || !in_flight_) return;
  deadline_.cancel();
  in_flight_.reset();
  bool close_after = !request_keep_alive_ || state_.stopping.load(std::memory_order_relaxed);
  response.version(request_version_);
  response.keep_alive(!close_after);
  write(std::move(response), close_after);
}

void session::write(http_response response, bool close_after) {
  response_ = std::move(response);
  response_.prepare_payload();
  // RFC 9110 §8.6: no Content-Length on a 204.
  if (response_.result() == http::status::no_content) response_.erase(http::field::content_length);
  // A response must leave within the same bound a request must arrive in.
  stream_.expires_after(state_.config.read_timeout);
  http::async_write(stream_, response_,
                    [self = shared_from_this(), close_after](beast::error_code ec, size_t) {
                      self->on_write(ec, close_after);
                    });
}

void session::on_write(beast::error_code ec, bool close_after) {
  if (counted_) {
    counted_ = false;
    state_.request_finished();
  }
  if (ec) return close();
  if (close_after) return linger();
  read_request();
}

void session::reject(problem_code code, std::string_view detail) {
  // A body over the limit is detected once every header field is stored
  // (Beast checks Content-Length after the last field), though the parser
  // does not count the header as done; other errors may leave it half-read.
  bool headers_complete =
    parser_ && (parser_->is_header_done() || code == problem_code::payload_too_large);
  const http_request* partial = headers_complete ? &parser_->get() : nullptr;
  auto response = state_.handler->reject_unreadable(code, partial, detail);
  response.version(partial ? partial->version() : 11);
  response.keep_alive(false);
  write(std::move(response), /*close_after=*/true);
}

void session::linger() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  buffer_.clear();
  lingered_bytes_ = 0;
  stream_.expires_after(linger_timeout);
  stream_.async_read_some(buffer_.prepare(read_chunk_bytes),
                          [self = shared_from_this()](beast::error_code ec, size_t bytes) {
                            self->on_linger(ec, bytes);
                          });
}

void session::on_linger(beast::error_code ec, size_t bytes) {
  lingered_bytes_ += bytes;
  if (ec || lingered_bytes_ >= linger_bytes_max) return close();
  stream_.async_read_some(buffer_.prepare(read_chunk_bytes),
                          [self = shared_from_this()](beast::error_code ec, size_t bytes) {
                            self->on_linger(ec, bytes);
                          });
}

void session::close() {
  deadline_.cancel();
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
}

} // namespace tally
