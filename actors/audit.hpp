#pragma once
// Audit log rows (API.md: every login, refresh, reuse, logout and failed
// attempt, with request id, user, session and client IP). Never a token,
// code or hash: `detail` names the method or the failure's code.
#include <string>
#include <utility>

#include "protocols/auth.hpp"
#include "protocols/error_code.hpp"
#include "protocols/records.hpp"

namespace tally {

/// Audit events, as stored.
namespace audit_event {
inline constexpr const char* login_succeeded = "login_succeeded";
inline constexpr const char* login_failed = "login_failed";
inline constexpr const char* refreshed = "refreshed";
inline constexpr const char* refresh_failed = "refresh_failed";
inline constexpr const char* refresh_reuse_detected = "refresh_reuse_detected";
inline constexpr const char* logged_out = "logged_out";
} // namespace audit_event

inline audit_row make_audit(timestamp_us now, const char* event, const request_origin& origin,
                            const uuid& user, const uuid& session, std::string detail) {
  audit_row row;
  row.id = random_uuid();
  row.created_at = now;
  row.event = event;
  row.request_id = origin.request_id;
  row.user_id = user;
  row.session_id = session;
  row.client_ip = origin.client_ip;
  row.detail = std::move(detail);
  return row;
}

} // namespace tally
