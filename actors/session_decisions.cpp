#include "actors/session_decisions.hpp"

#include "protocols/secrets.hpp"

namespace tally {

bool session_usable(const session_row& session, const uuid& user, timestamp_us now) {
  return session.user_id == user && session.revoked_at == 0 && now < session.expires_at;
}

refresh_verdict classify_refresh(const session_row& session, const std::string& token_hash,
                                 timestamp_us now, std::chrono::microseconds grace) {
  if (constant_time_equal(token_hash, session.refresh_hash)) return refresh_verdict::rotate;
  if (!session.previous_refresh_hash.empty()
      && constant_time_equal(token_hash, session.previous_refresh_hash))
    return now - session.rotated_at <= grace.count() ? refresh_verdict::grace
                                                     : refresh_verdict::reused;
  return refresh_verdict::unknown;
}

} // namespace tally
