#include "http/request_reader.hpp"

#include <algorithm>
#include <cstring>

#include <boost/beast/http/error.hpp>

namespace tally {

namespace beast = boost::beast;

request_reader::request_reader(const http_config& config)
  : config_(config),
    // A full header plus one read's worth: body bytes go to the body as
    // they arrive, so only framing waits here.
    buffer_(config.header_bytes_max + read_bytes) {}

void request_reader::start() {
  parser_.emplace();
  parser_->body_limit(config_.body_bytes_max);
  parser_->header_limit(static_cast<uint32_t>(config_.header_bytes_max));
  header_reported_ = false;
  scanned_ = 0;
  empty_line_bytes_ = 0;
  refusal_ = {};
}

read_state request_reader::refuse(problem_code code, std::string detail) {
  refusal_ = {code, std::move(detail)};
  return read_state::refused;
}

void request_reader::skip_empty_lines() {
  auto data = static_cast<const char*>(buffer_.data().data());
  size_t n = 0;
  while (n < buffer_.size() && (data[n] == '\r' || data[n] == '\n')) ++n;
  buffer_.consume(n);
  empty_line_bytes_ += n;
}

bool request_reader::holds_bare_lf() {
  auto data = static_cast<const char*>(buffer_.data().data());
  auto size = buffer_.size();
  for (size_t i = scanned_; i < size; ++i)
    if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r')) return true;
  // The last byte may be a CR whose LF is still to come: scan it again.
  scanned_ = size > 0 ? size - 1 : 0;
  return false;
}

read_state request_reader::parse() {
  if (!parser_) return read_state::closed;
  for (;;) {
    if (parser_->is_header_done() && !header_reported_) {
      header_reported_ = true;
      // From here a put takes as much body as there is (http::read does
      // the same); before, it stops after the header so the framing is
      // checked before a byte of body is read.
      parser_->eager(true);
      return read_state::header_done;
    }
    if (parser_->is_done()) return read_state::complete;
    if (!parser_->got_some()) {
      skip_empty_lines();
      if (empty_line_bytes_ > config_.header_bytes_max)
        return refuse(problem_code::headers_too_large, "Too many empty lines before the request");
    }
    if (buffer_.size() == 0) return read_state::need_more;
    beast::error_code ec;
    auto used = parser_->put(buffer_.data(), ec);
    buffer_.consume(used);
    scanned_ = scanned_ > used ? scanned_ - used : 0;
    if (ec == http::error::need_more) {
      if (holds_bare_lf())
        return refuse(problem_code::bad_request, "Lines must end with CRLF, not a bare LF");
      return read_state::need_more;
    }
    if (ec == http::error::body_limit || ec == http::error::buffer_overflow)
      return refuse(problem_code::payload_too_large, {});
    if (ec == http::error::header_limit) return refuse(problem_code::headers_too_large, {});
    if (ec) return refuse(problem_code::bad_request, {});
  }
}

read_state request_reader::end_of_input() {
  if (!parser_ || !parser_->got_some()) return read_state::closed;
  beast::error_code ec;
  parser_->put_eof(ec);
  if (!ec && parser_->is_done()) return read_state::complete;
  return read_state::closed;
}

boost::asio::mutable_buffer request_reader::prepare(size_t bytes) {
  auto room = buffer_.max_size() - buffer_.size();
  return buffer_.prepare(std::min(bytes, room));
}

size_t request_reader::bytes_held_after_prepare(size_t bytes) const {
  auto size = buffer_.size();
  bytes = std::min(bytes, buffer_.max_size() - size);
  auto capacity = buffer_.capacity();
  // flat_buffer grows to max(2 * size, size + n), at most max_size.
  if (capacity - size < bytes) capacity = std::min(buffer_.max_size(), std::max(2 * size, size + bytes));
  return bytes_held() - buffer_.capacity() + capacity;
}

size_t request_reader::bytes_held() const {
  size_t body = parser_ && parser_->is_header_done() ? parser_->get().body().capacity() : 0;
  return buffer_.capacity() + body;
}

void request_reader::reset() {
  parser_.reset();
  discard();
}

void request_reader::discard_down_to(size_t capacity_max) {
  if (buffer_.capacity() > capacity_max) return discard();
  buffer_.clear();
  scanned_ = 0;
}

void request_reader::discard() {
  buffer_.clear();
  buffer_.shrink_to_fit();
  scanned_ = 0;
}

} // namespace tally
