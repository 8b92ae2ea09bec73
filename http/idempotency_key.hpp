#pragma once
// The Idempotency-Key header (API.md, Conventions): 1..255 printable ASCII
// characters; an RFC 8941 sf-string ("...") is accepted and unquoted, so
// `"abc"` and `abc` name the same key.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tally {

/// API.md: keys are 1..255 characters (after unquoting).
inline constexpr size_t idempotency_key_chars_max = 255;

/// Why a header value is not a usable key.
enum class idempotency_key_status : uint8_t {
  ok,       ///< `key` holds the (unquoted) key
  missing,  ///< no header at all
  invalid,  ///< empty, too long, not printable, or a broken or unbalanced quoted string
};

/// A parsed Idempotency-Key header.
struct idempotency_key_result {
  idempotency_key_status status = idempotency_key_status::missing;
  std::string key;
};

/// `header` is the raw field value; `present` says whether the field was sent
/// (an empty value is invalid, not missing).
idempotency_key_result parse_idempotency_key(bool present, std::string_view header);

/// Hex SHA-256 of "<endpoint name>\n<path user id or empty>\n<canonical body>",
/// the canonical body being the parsed JSON dumped with sorted keys. A key
/// reused with another digest is IDEMPOTENCY_KEY_REUSED.
std::string request_digest(std::string_view endpoint_name, std::string_view path_user,
                           std::string_view canonical_body);

} // namespace tally
