#pragma once
// The opaque ?cursor= of GET /v1/me/ledger: base64url of the decimal seq of
// the oldest entry already shown (the next page holds seq < that). Opaque to
// clients; strict to decode so a forged or truncated cursor is a 422.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tally {

/// Longest cursor we decode (an int64 in decimal needs 26 characters).
inline constexpr size_t ledger_cursor_chars_max = 32;

std::string encode_ledger_cursor(int64_t before_seq);

/// The seq, > 0; nullopt for anything encode_ledger_cursor cannot produce.
std::optional<int64_t> decode_ledger_cursor(std::string_view cursor);

} // namespace tally
