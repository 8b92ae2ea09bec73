#pragma once
// Pure session decisions (API.md "Auth"), apart from the user actor that
// applies them: is a session usable, and what does a presented refresh
// token mean for it.
//
//   refresh token hash ==
//     current                      -> rotate (a new token; this one becomes previous)
//     previous, within the grace   -> grace: hand out the current token again
//     previous, after the grace    -> reused: revoke the whole session
//     anything else                -> unknown: an older token of this
//                                     session (store) is reuse, else invalid
#include <chrono>
#include <cstdint>
#include <string>

#include "protocols/credits.hpp"
#include "protocols/records.hpp"

namespace tally {

/// A session authorises commands: it belongs to `user`, is not revoked and
/// has not expired at `now`.
bool session_usable(const session_row& session, const uuid& user, timestamp_us now);

enum class refresh_verdict : uint8_t {
  rotate,   ///< the current refresh token
  grace,    ///< the previous one, presented within the grace window
  reused,   ///< the previous one, after the grace window
  unknown,  ///< not current or previous: the store decides (older token or garbage)
};

/// Classifies a presented token by its hash (compared in constant time).
/// The grace window includes its end: rotated_at + grace is still grace.
refresh_verdict classify_refresh(const session_row& session, const std::string& token_hash,
                                 timestamp_us now, std::chrono::microseconds grace);

} // namespace tally
