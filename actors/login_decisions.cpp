#include "actors/login_decisions.hpp"

#include <algorithm>
#include <chrono>

#include "protocols/secrets.hpp"

namespace tally {

namespace {

/// Doublings of the back-off at most: keeps the shift defined whatever
/// code_failures_max is configured to (2^30 * 500 ms is decades).
constexpr int backoff_doublings_max = 30;

} // namespace

link_verdict decide_link(const magic_link_row* link, timestamp_us now) {
  if (link == nullptr) return link_verdict::unknown;
  if (link->used_at != 0) return link_verdict::used;
  if (now >= link->expires_at) return link_verdict::expired;
  return link_verdict::valid;
}

int64_t code_backoff_us(int failures, const auth_config& auth) {
  if (failures <= 0) return 0;
  auto base = std::chrono::duration_cast<std::chrono::microseconds>(auth.code_backoff_base).count();
  return base << std::min(failures - 1, backoff_doublings_max);
}

code_attempt decide_code(const std::optional<login_code_row>& code,
                         const std::string& presented_hash, timestamp_us now,
                         const auth_config& auth) {
  code_attempt out;
  if (!code || code->code_hash.empty()) return out;  // no_code
  out.after = *code;
  if (code->locked) {
    out.verdict = code_verdict::locked;
    return out;
  }
  if (now < code->next_attempt_at) {
    out.verdict = code_verdict::too_early;
    out.retry_after_us = code->next_attempt_at - now;
    return out;
  }
  if (now >= code->expires_at) {
    out.verdict = code_verdict::expired;
    return out;
  }
  out.changed = true;
  if (constant_time_equal(presented_hash, code->code_hash)) {
    out.verdict = code_verdict::right;
    out.after.code_hash.clear();  // burnt: single use
    out.after.failures = 0;
    out.after.next_attempt_at = 0;
    return out;
  }
  out.after.failures = code->failures + 1;
  if (out.after.failures >= auth.code_failures_max) {
    out.verdict = code_verdict::wrong_locked;
    out.after.locked = true;
    return out;
  }
  out.verdict = code_verdict::wrong;
  out.after.next_attempt_at = now + code_backoff_us(out.after.failures, auth);
  return out;
}

failure login_refusal(error_code code) {
  switch (code) {
    case error_code::invalid_token: return {code, "the magic link is invalid or was used", 0};
    case error_code::token_expired: return {code, "the magic link has expired", 0};
    case error_code::invalid_code: return {code, "the code is wrong or was not requested", 0};
    case error_code::code_locked: return {code, "too many wrong codes; request a new one", 0};
    case error_code::code_expired: return {code, "the code has expired", 0};
    default: return {code, to_string(code), 0};
  }
}

std::string code_hash(const std::string& pepper, const std::string& code) {
  return to_hex(hmac_sha256(pepper, code));
}

} // namespace tally
