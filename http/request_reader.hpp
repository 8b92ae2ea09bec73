#pragma once
// Bytes in, one request out: the read buffer and Beast's request parser,
// with no socket and no timer, so the session only moves bytes and keeps
// time, and tests and fuzzers can feed it anything.
//
//   start ──▶ parse ──need_more──▶ (caller reads: prepare/commit) ──▶ parse
//               ├──header_done──▶ (caller checks the framing) ──▶ parse
//               ├──complete──▶ release()
//               └──refused──▶ refusal(): answer it, then close
//
// Beyond what Beast checks it
//  - ignores empty lines before the request line (RFC 9112 §2.2), at most
//    header_bytes_max of them;
//  - refuses a bare LF where a line must end (request line, header fields,
//    chunk sizes, trailers) at once with 400. Beast only knows CRLF and
//    would wait for one until the read time-out, closing without a word.
#include <cstddef>
#include <optional>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>

#include "http/http_config.hpp"
#include "http/problem.hpp"
#include "http/request_context.hpp"

namespace tally {

/// What request_reader::parse found.
enum class read_state : uint8_t {
  need_more,    ///< read more bytes, then parse again
  header_done,  ///< the header is complete (once per request); parse again to go on
  complete,     ///< a whole request: release() it
  refused,      ///< unreadable: refusal() says what to answer; nothing more is parsed
  closed,       ///< the peer ended the connection between or inside a request
};

/// Why a request could not be read.
struct read_refusal {
  problem_code code = problem_code::bad_request;
  std::string detail;
};

class request_reader {
public:
  /// Bytes asked for by one read of the socket.
  static constexpr size_t read_bytes = 4 * 1024;

  explicit request_reader(const http_config& config);

  /// A fresh parser for the next request; bytes already buffered (a
  /// pipelined request) stay and are parsed first.
  void start();

  /// Parses what is buffered (see the file comment).
  read_state parse();
  /// The peer closed its side: closed, or complete if that ends the request.
  read_state end_of_input();

  /// Room for one read of at most `bytes`; empty when the buffer is full.
  boost::asio::mutable_buffer prepare(size_t bytes);
  void commit(size_t bytes) { buffer_.commit(bytes); }
  /// bytes_held() once prepare(bytes) has run (for the byte budget).
  size_t bytes_held_after_prepare(size_t bytes) const;

  /// Bytes buffered and not parsed yet.
  size_t buffered() const { return buffer_.size(); }
  /// Memory held: the read buffer and the body read (or promised) so far.
  size_t bytes_held() const;
  /// Drops the buffered bytes and frees the buffer (idle or closing).
  void discard();
  /// Drops the buffered bytes; frees the buffer only if it holds more than
  /// `capacity_max` (a waiting connection keeps a small one: no allocation
  /// per request).
  void discard_down_to(size_t capacity_max);
  /// Drops the parser (and the body it holds) too: nothing more is parsed.
  void reset();
  /// Whether start() has run since the last reset().
  bool started() const { return parser_.has_value(); }

  const http_request& header() const { return parser_->get(); }
  bool header_complete() const { return parser_ && parser_->is_header_done(); }
  const read_refusal& refusal() const { return refusal_; }
  /// The request; valid once parse() said complete.
  http_request release() { return parser_->release(); }

private:
  read_state refuse(problem_code code, std::string detail);
  /// Whether the unparsed bytes hold an LF without its CR.
  bool holds_bare_lf();
  void skip_empty_lines();

  const http_config& config_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  read_refusal refusal_;
  bool header_reported_ = false;
  /// Leading unparsed bytes already searched for a bare LF.
  size_t scanned_ = 0;
  size_t empty_line_bytes_ = 0;
};

} // namespace tally
