#pragma once
// Internal to the user actor, which spans two files: user.cpp (credits,
// activation, lifecycle) and user_sessions.cpp (sessions: the check on every
// caller command, login, refresh, logout, me). Nothing outside actors/user*
// includes this.
#include <functional>
#include <optional>
#include <string>

#include "actors/user.hpp"

namespace tally::user_detail {

using user_pointer = user_actor::stateful_pointer<user_state>;

// -- shared by both files (defined in user.cpp) -------------------------------------

/// What a retiring user answers an admin command (user_not_found, or 503).
failure retire_failure(const user_state& st);

/// 503 OVERLOADED with the user's Retry-After.
failure overloaded(const char* why);

/// Admission of a write: nullopt, or why it is refused (backlog, window).
std::optional<failure> refuse_write(const user_state& st);

/// Hands `records` to the writer under the next token and queues `pending`
/// (its token and balance are set here) until the writer reports back.
void submit_write(user_pointer self, write_batch records, uncommitted_write pending);

// -- sessions (defined in user_sessions.cpp) ------------------------------------------

/// Runs `run` with the caller's session once it is known to be usable, or
/// answers `refuse` (session_revoked; 503 while retiring or when the store
/// cannot be read). An unknown session is loaded once; its commands wait.
void with_session(user_pointer self, const uuid& session,
                  std::function<void(session_entry&)> run,
                  std::function<void(const failure&)> refuse);

void open_session(user_pointer self, const std::string& method, const request_origin& origin,
                  grant_reply done);
void refresh(user_pointer self, const uuid& session, const std::string& token,
             const request_origin& origin, grant_reply done);
void logout(user_pointer self, const uuid& session, const request_origin& origin,
            logout_reply done);
void me(user_pointer self, const uuid& session, me_reply done);

// -- memberships (defined in user_memberships.cpp) ------------------------------------

/// Answers /v1/auth/me (the session is checked): the user and its tenants.
void answer_me(user_pointer self, me_reply done);

/// A tenant committed this membership: kept if the list is loaded.
void note_membership(user_pointer self, const membership_view& membership);

/// Retirement: answers every command still waiting for a session load
/// and drops the sessions (they are reloaded from the store).
void drop_sessions(user_pointer self);

} // namespace tally::user_detail
