#pragma once
// X-Request-ID (API.md, Conventions): a client's id is echoed when it is
// 1..128 printable ASCII characters; otherwise a fresh UUID is used.
#include <cstddef>
#include <string>
#include <string_view>

namespace tally {

/// API.md: echoed ids are at most this long.
inline constexpr size_t request_id_chars_max = 128;

/// True when `candidate` may be echoed back (1..128 chars, 0x20..0x7e).
bool acceptable_request_id(std::string_view candidate);

/// `candidate` when acceptable, else a new random UUID.
std::string choose_request_id(std::string_view candidate);

} // namespace tally
