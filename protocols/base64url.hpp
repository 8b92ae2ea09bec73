#pragma once
// base64url without padding (RFC 4648 §5), as JWTs and ledger cursors use it.
#include <optional>
#include <string>
#include <string_view>

namespace tally {

std::string base64url_encode(std::string_view bytes);

/// Strict: only the base64url alphabet, no padding, no whitespace, and no
/// stray bits in the last character. nullopt otherwise.
std::optional<std::string> base64url_decode(std::string_view text);

} // namespace tally
