#pragma once
// Pure login decisions (API.md "Auth"), apart from the identity actor that
// applies them: what a presented magic link or phone code means.
//
// A phone code's life:
//
//   request --> live --right--> burnt (single use; code_hash cleared)
//                 |  \--wrong (failures < max)--> live, next attempt after
//                 |       base * 2^(failures-1); earlier -> too_early (429)
//                 |  \--wrong (failures = max)--> locked (CODE_LOCKED until a new request)
//                 +--expires_at passed--> expired
//   a new request replaces the row whatever its state (failures and lock reset).
#include <optional>
#include <string>

#include "protocols/auth.hpp"
#include "protocols/outcome.hpp"
#include "protocols/records.hpp"

namespace tally {

enum class link_verdict : uint8_t {
  unknown,  ///< no such link (for this identity)
  used,     ///< single use: already logged in with
  expired,  ///< older than its lifetime
  valid,    ///< logs in
};

/// Judges a magic link found by its hash (nullptr = not found) at `now`.
link_verdict decide_link(const magic_link_row* link, timestamp_us now);

enum class code_verdict : uint8_t {
  no_code,    ///< none requested, or burnt by a login (INVALID_CODE)
  locked,     ///< burnt by too many failures (CODE_LOCKED)
  too_early,  ///< inside the back-off after a failure (RATE_LIMITED)
  expired,    ///< older than its lifetime (CODE_EXPIRED)
  wrong,      ///< counted; back-off set (INVALID_CODE)
  wrong_locked,  ///< the failure that burns it (CODE_LOCKED)
  right,      ///< logs in; the code is burnt
};

struct code_attempt {
  code_verdict verdict = code_verdict::no_code;
  /// The row after the attempt, to persist when `changed`.
  login_code_row after;
  bool changed = false;
  /// too_early: microseconds until the next attempt is allowed.
  int64_t retry_after_us = 0;
};

/// Back-off after `failures` failures: base * 2^(failures - 1) (0 for none).
int64_t code_backoff_us(int failures, const auth_config& auth);

/// Judges a code attempt: `presented_hash` is hex HMAC(pepper, code).
code_attempt decide_code(const std::optional<login_code_row>& code,
                         const std::string& presented_hash, timestamp_us now,
                         const auth_config& auth);

/// The refusal a client gets for a failed login of this code (INVALID_TOKEN,
/// TOKEN_EXPIRED, INVALID_CODE, CODE_LOCKED, CODE_EXPIRED).
failure login_refusal(error_code code);

/// The stored hash of a code: hex HMAC-SHA256(pepper, code).
std::string code_hash(const std::string& pepper, const std::string& code);

} // namespace tally
