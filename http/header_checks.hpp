#pragma once
// Checks on a request's header fields that come before routing, so that no
// two readers of one request (a proxy in front of us, and us) can disagree
// about it:
//
//   framing_refusal   how long the body is (RFC 9112 §6): checked by the
//                     session as soon as the header is read, before a byte of
//                     body; a refusal closes the connection, since whatever
//                     follows cannot be told apart from a smuggled request.
//   ambiguous_header  fields that must appear once (Host, RFC 9112 §3.2) or
//                     at most once (Authorization, Content-Type,
//                     Idempotency-Key): checked first by request_handler; the
//                     framing is sound, so the connection may stay open.
//
// Pure functions of the header, unit-tested without sockets.
#include <optional>
#include <string>

#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/message.hpp>

#include "http/problem.hpp"

namespace tally {

/// Why a request's header is refused: the problem to answer and a detail for
/// the client.
struct header_refusal {
  problem_code code = problem_code::bad_request;
  std::string detail;
};

/// nullopt when the body is framed by Content-Length, by one final `chunked`
/// coding, or not at all. Otherwise (RFC 9112 §6.1, §6.3):
///  - Transfer-Encoding with Content-Length, or in an HTTP/1.0 request: 400;
///  - an empty coding list, a last coding other than `chunked`, or `chunked`
///    twice: 400 (the body length cannot be determined);
///  - a coding before the final `chunked` (`gzip, chunked`): 501, as this
///    server implements none.
std::optional<header_refusal>
framing_refusal(const boost::beast::http::request_header<>& header);

/// nullopt when Host appears exactly once (at most once before HTTP/1.1) and
/// Authorization, Content-Type and Idempotency-Key at most once each;
/// otherwise 400 BAD_REQUEST naming the field.
std::optional<header_refusal>
ambiguous_header(const boost::beast::http::request_header<>& header);

} // namespace tally
