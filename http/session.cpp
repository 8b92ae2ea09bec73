#include "http/session.hpp"

#include "http/field_value.hpp"
#include "http/header_checks.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/write.hpp>

namespace tally {

namespace net = boost::asio;
namespace beast = boost::beast;
using tcp = net::ip::tcp;

namespace {

/// Bytes asked for by the read that waits for a request's first bytes: a
/// waiting connection holds no more than this (most requests fit in it).
constexpr size_t first_read_bytes = 1024;
/// After an unreadable request the rest of the client's upload is read and
/// dropped for at most this long / this much, so closing does not reset the
/// connection before the client has read our error (a "lingering close").
constexpr std::chrono::milliseconds linger_timeout{2'000};
constexpr size_t linger_bytes_max = 1024 * 1024;

} // namespace

void server_state::request_finished() {
  if (in_flight.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    std::lock_guard<std::mutex> lock(drain_mutex);
    drained.notify_all();
  }
}

session::session(tcp::socket socket, server_state& state, std::string peer_ip,
                 connection_table::slot_id slot)
  : state_(state),
    stream_(std::move(socket)),
    reader_(state.config),
    lease_(state.budget),
    deadline_(stream_.get_executor()),
    peer_ip_(std::move(peer_ip)),
    slot_(slot) {
  if (slot_ == 0) state_.refusing.fetch_add(1, std::memory_order_relaxed);
}

session::~session() {
  if (counted_) state_.request_finished();
  if (slot_ != 0) state_.table.release(slot_);
  else state_.refusing.fetch_sub(1, std::memory_order_relaxed);
}

void session::start() {
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    if (self->slot_ == 0)
      self->reject(problem_code::overloaded, "Too many open connections; retry later");
    else
      self->wait_for_request();
  });
}

void session::evict() {
  net::post(stream_.get_executor(), [self = shared_from_this()] { self->close(); });
}

void session::account() {
  lease_.resize(reader_.bytes_held() + request_body_bytes_ + response_.body().capacity());
}

void session::wait_for_request() {
  reader_.start();
  if (reader_.buffered() > 0) {
    // A pipelined request already buffered: due within read_timeout.
    stream_.expires_after(state_.config.read_timeout);
    parse_buffered();
    return;
  }
  // Nothing of the next request yet: the connection holds only a small
  // buffer while it waits, and may be evicted for a newcomer when full.
  reader_.discard_down_to(first_read_bytes);
  account();
  state_.table.mark_idle(slot_, weak_from_this());
  // A new connection must start its request within read_timeout; a
  // keep-alive one may wait idle_timeout for the next.
  stream_.expires_after(first_request_ ? state_.config.read_timeout : state_.config.idle_timeout);
  first_request_ = false;
  lease_.resize(reader_.bytes_held_after_prepare(first_read_bytes));
  stream_.async_read_some(reader_.prepare(first_read_bytes),
                          [self = shared_from_this()](beast::error_code ec, size_t bytes) {
                            self->on_first_bytes(ec, bytes);
                          });
}

void session::on_first_bytes(beast::error_code ec, size_t bytes) {
  // Evicted while waiting: the slot is someone else's now.
  if (!state_.table.mark_busy(slot_)) return close();
  if (ec) return close();
  reader_.commit(bytes);
  stream_.expires_after(state_.config.read_timeout);
  parse_buffered();
}

void session::parse_buffered() {
  for (;;) {
    auto state = reader_.parse();
    // Chunked bodies grow as they are read: each step must fit the budget.
    if (!lease_.try_resize(reader_.bytes_held()))
      return reject(problem_code::overloaded, "The server holds too many request bytes; retry later");
    switch (state) {
      case read_state::need_more: return read_more();
      case read_state::header_done:
        if (!accept_header()) return;
        continue;
      case read_state::complete: return dispatch_request();
      case read_state::refused:
        return reject(reader_.refusal().code, reader_.refusal().detail);
      case read_state::closed: return close();
    }
  }
}

bool session::accept_header() {
  const auto& header = reader_.header();
  // The framing is decided before a byte of body is read: a body whose
  // length we might judge differently from a proxy in front of us would
  // let the rest of it pass as a second, smuggled request (RFC 9112 §6.3).
  if (auto refusal = framing_refusal(header)) {
    reject(refusal->code, refusal->detail);
    return false;
  }
  // Beast reserves a declared Content-Length for the body at once: the
  // budget must hold it before it does.
  if (auto length = header.payload_size(); length && *length <= state_.config.body_bytes_max) {
    if (!lease_.try_resize(reader_.bytes_held() + *length)) {
      reject(problem_code::overloaded, "The server holds too many request bytes; retry later");
      return false;
    }
  }
  // curl and others wait ~1 s for "100 Continue" before sending a body of
  // more than 1 KiB; say it at once (RFC 9110 §10.1.1) and read on. The
  // read_timeout set at the first bytes still bounds the whole request.
  if (!ascii_iequals(header[http::field::expect], "100-continue")) return true;
  static constexpr std::string_view continue_line = "HTTP/1.1 100 Continue\r\n\r\n";
  net::async_write(stream_, net::buffer(continue_line.data(), continue_line.size()),
                   [self = shared_from_this()](beast::error_code ec, size_t) {
                     if (ec) return self->close();
                     self->parse_buffered();
                   });
  return false;
}

void session::read_more() {
  auto wanted = request_reader::read_bytes;
  if (!lease_.try_resize(reader_.bytes_held_after_prepare(wanted)))
    return reject(problem_code::overloaded, "The server holds too many request bytes; retry later");
  auto room = reader_.prepare(wanted);
  if (room.size() == 0) return reject(problem_code::payload_too_large);
  stream_.async_read_some(room, [self = shared_from_this()](beast::error_code ec, size_t bytes) {
    self->on_more_bytes(ec, bytes);
  });
}

void session::on_more_bytes(beast::error_code ec, size_t bytes) {
  if (ec == net::error::eof) {
    if (reader_.end_of_input() == read_state::complete) return dispatch_request();
    return close();
  }
  // Time-out (slow client) or a socket error: nothing useful to say.
  if (ec) return close();
  reader_.commit(bytes);
  parse_buffered();
}

void session::dispatch_request() {
  stream_.expires_never();
  auto request = reader_.release();
  request_keep_alive_ = request.keep_alive();
  request_version_ = request.version();
  request_head_ = request.method() == http::verb::head;
  request_body_bytes_ = request.body().capacity();
  account();
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
  in_flight_ = state_.handler->serve(std::move(request), std::move(sink), peer_ip_);
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
  // HEAD: the GET's header, Content-Length included, and no body.
  if (request_head_) response_.body().clear();
  account();
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
  response_ = {};
  request_body_bytes_ = 0;
  account();
  if (ec) return close();
  if (close_after) return linger();
  wait_for_request();
}

void session::reject(problem_code code, std::string_view detail) {
  // A body over the limit is detected once every header field is stored
  // (Beast checks Content-Length after the last field), though the parser
  // does not count the header as done; other errors may leave it half-read.
  bool headers_complete = reader_.header_complete() ||
                          (code == problem_code::payload_too_large && reader_.started());
  const http_request* partial = headers_complete ? &reader_.header() : nullptr;
  auto response = state_.handler->reject_unreadable(code, partial, detail);
  response.version(partial ? partial->version() : 11);
  response.keep_alive(false);
  request_head_ = partial && partial->method() == http::verb::head;
  // Nothing more is parsed: the body read so far is freed now.
  reader_.reset();
  write(std::move(response), /*close_after=*/true);
}

void session::linger() {
  beast::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  reader_.reset();
  lingered_bytes_ = 0;
  stream_.expires_after(linger_timeout);
  on_linger({}, 0);
}

void session::on_linger(beast::error_code ec, size_t bytes) {
  lingered_bytes_ += bytes;
  if (ec || lingered_bytes_ >= linger_bytes_max) return close();
  // What the client still sends is read into a small buffer and dropped.
  reader_.discard_down_to(first_read_bytes);
  lease_.resize(reader_.bytes_held_after_prepare(first_read_bytes));
  stream_.async_read_some(reader_.prepare(first_read_bytes),
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
