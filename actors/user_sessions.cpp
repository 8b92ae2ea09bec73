// The user actor's sessions (see user_sessions.hpp): the check on every
// caller command, login, refresh with rotation and reuse detection, logout
// and me. Every session change is one write that also carries the user's
// (unchanged) balance, so it is fenced by the owner epoch like every other
// write of this user; its reply waits for the commit (auth replies always
// wait, whatever the ack mode: a token handed out must exist in the store).
#include "actors/user_sessions.hpp"

#include <utility>

#include "caf/all.hpp"

#include "actors/audit.hpp"
#include "actors/lifecycle.hpp"
#include "actors/rate_limit.hpp"
#include "actors/session_decisions.hpp"
#include "protocols/auth_tokens.hpp"
#include "protocols/secrets.hpp"

namespace tally::user_detail {

namespace {

using phase = user_state::phase;

failure session_revoked() {
  return {error_code::session_revoked, "the session is revoked, expired or unknown", 0};
}

failure invalid_token() {
  return {error_code::invalid_token, "the refresh token is invalid", 0};
}

failure store_unavailable() {
  return {error_code::store_unavailable, "the store is unavailable; retry", user_retry_after_s};
}

/// What a caller command gets while the user cannot serve: a user that does
/// not exist has no live session either.
failure for_caller(failure why) {
  return why.code == error_code::user_not_found ? session_revoked() : why;
}

/// Likewise for a refresh token naming a user that does not exist.
failure for_refresh(failure why) {
  return why.code == error_code::user_not_found ? invalid_token() : why;
}

session_cache& sessions_of(user_state& st) {
  return st.sessions;
}

timestamp_us now_of(const user_state& st) {
  return st.context->clock();
}

user_view view_of(const user_state& st) {
  return st.profile.view();
}

/// The unchanged balance, so that a session write is fenced like every
/// other write of this user.
balance_write fence_of(const user_state& st, timestamp_us now) {
  return {st.id, st.epoch, st.speculative, st.ledger_seq, now};
}

/// Loads `session` from the store; its waiting commands run when it is in.
void load_session(user_pointer self, const uuid& session) {
  auto& st = self->state;
  ++st.lookups_in_flight;
  self->request(st.reader, caf::infinite, find_session_atom_v, st.id, session)
    .then(
      [self, session](session_lookup& found) {
        auto& st = self->state;
        --st.lookups_in_flight;
        if (st.current != phase::active) {
          // drop_sessions answered the waiting commands already.
          if (st.current == phase::retiring) ask_retirement(self);
          return;
        }
        auto* entry = sessions_of(st).find(session);
        if (entry == nullptr) return;
        entry->loading = false;
        if (found.session)
          entry->row.assign(*found.session);
        else
          entry->missing = true;
        auto waiting = entry->take_waiting();
        for (auto& command : waiting) command(nullptr);
      },
      [self, session](caf::error&) {
        auto& st = self->state;
        --st.lookups_in_flight;
        if (st.current != phase::active) {
          if (st.current == phase::retiring) ask_retirement(self);
          return;
        }
        // Forgotten, so the next command asks the store again.
        session_entry::waiting_list waiting;
        if (auto* entry = sessions_of(st).find(session)) waiting = entry->take_waiting();
        st.sessions.erase(session);
        auto why = store_unavailable();
        for (auto& command : waiting) command(&why);
      });
}

/// Runs `run` once the session's entry is in memory (it may say `missing`),
/// or answers `refuse` with the raw failure (retirement, store outage).
void with_loaded_session(user_pointer self, const uuid& session,
                         std::function<void(session_entry&)> run,
                         std::function<void(const failure&)> refuse) {
  auto& st = self->state;
  if (st.current != phase::active) {
    refuse(retire_failure(st));
    return;
  }
  auto& cache = sessions_of(st);
  auto* entry = cache.find(session);
  if (entry == nullptr) {
    entry = &cache.add(session, st.writes.committed_token());
    load_session(self, session);
  }
  if (entry->loading) {
    entry->wait(
      [self, session, run = std::move(run), refuse = std::move(refuse)](const failure* why) mutable {
        if (why != nullptr)
          refuse(*why);
        else
          with_loaded_session(self, session, std::move(run), std::move(refuse));
      });
    return;
  }
  run(*entry);
}

/// Hands a session change to the writer; `deliver` runs after its commit,
/// `fail` if it can never commit.
void write_session_change(user_pointer self, session_entry& entry, write_batch records,
                          std::function<void()> deliver, std::function<void(const failure&)> fail) {
  auto& st = self->state;
  records.balances.push_back(fence_of(st, now_of(st)));
  uncommitted_write pending;
  pending.waiting = uncommitted_write::session_waiting{std::move(deliver), std::move(fail)};
  submit_write(self, std::move(records), std::move(pending));
  entry.write_token = st.writes.last_token();
}

/// Answers a failed attempt once its audit row is committed. If the
/// pipeline is full the answer goes at once and the row is lost: a flood of
/// bad attempts must not turn into 503s.
template <class Reply>
void fail_with_audit(user_pointer self, const failure& why, audit_row row, Reply done) {
  auto& st = self->state;
  if (refuse_write(st)) {
    done(why);
    return;
  }
  write_batch records;
  records.audit.push_back(std::move(row));
  uncommitted_write pending;
  pending.waiting = uncommitted_write::session_waiting{[done, why] { done(why); },
                                                       [done](const failure& f) { done(f); }};
  submit_write(self, std::move(records), std::move(pending));
}

/// Issues a new refresh token for the session (previous = the current one).
void rotate_session(user_pointer self, session_entry& entry, const request_origin& origin,
                    const char* detail, grant_reply done) {
  auto& st = self->state;
  auto now = now_of(st);
  auto token = make_refresh_token(st.id, entry.row.id());
  auto row = entry.row.row();
  row.previous_refresh_hash = row.refresh_hash;
  row.refresh_hash = sha256_hex(token);
  row.rotated_at = now;
  row.expires_at = now + micros(st.context->auth.session_ttl);  // sliding
  write_batch records;
  records.sessions.push_back(row);
  records.refresh_tokens.push_back(refresh_token_row{row.refresh_hash, row.id, st.id, now});
  records.audit.push_back(make_audit(now, audit_event::refreshed, origin, st.id, row.id, detail));
  entry.row.assign(row);
  entry.current_token = std::make_unique<std::string>(token);
  session_grant grant{row.id, std::move(token), view_of(st)};
  write_session_change(
    self, entry, std::move(records), [done, grant] { done(grant); },
    fail_to(done));
}

/// Revokes the session at once (memory first: every later command is
/// refused), then writes it.
void revoke_session(user_pointer self, session_entry& entry, const request_origin& origin,
                    const char* event, std::function<void()> deliver,
                    std::function<void(const failure&)> fail) {
  auto& st = self->state;
  auto now = now_of(st);
  auto row = entry.row.row();
  row.revoked_at = now;
  entry.row.assign(row);
  entry.current_token.reset();
  write_batch records;
  records.audit.push_back(make_audit(now, event, origin, st.id, row.id, {}));
  records.sessions.push_back(std::move(row));
  write_session_change(self, entry, std::move(records), std::move(deliver), std::move(fail));
}

/// A presented token that was rotated out long ago: the whole session goes.
void revoke_for_reuse(user_pointer self, session_entry& entry, const request_origin& origin,
                      grant_reply done) {
  failure reused{error_code::refresh_token_reused,
                 "this refresh token was already used; the session is revoked", 0};
  revoke_session(
    self, entry, origin, audit_event::refresh_reuse_detected, [done, reused] { done(reused); },
    fail_to(done));
}

/// The refresh limit per session (GCRA in memory); true if allowed.
bool take_refresh_slot(user_state& st, session_entry& entry, grant_reply& done) {
  auto decision = gcra(entry.refresh_limit_tat, now_of(st), st.context->auth.refresh_per_session);
  if (!decision.allowed) {
    done(failure{error_code::rate_limited, "too many refreshes for this session",
                 retry_after_seconds(decision.retry_after_us)});
    return false;
  }
  entry.refresh_limit_tat = decision.tat;
  return true;
}

/// A token that is neither the session's current nor its previous one: if
/// the store knows it as an older token of this session, it is reuse.
void check_older_token(user_pointer self, const uuid& session, const std::string& hash,
                       const request_origin& origin, grant_reply done) {
  auto& st = self->state;
  ++st.lookups_in_flight;
  self->request(st.reader, caf::infinite, find_refresh_atom_v, hash)
    .then(
      [self, session, origin, done](refresh_token_lookup& found) {
        auto& st = self->state;
        --st.lookups_in_flight;
        if (st.current != phase::active) {
          done(for_refresh(retire_failure(st)));
          if (st.current == phase::retiring) ask_retirement(self);
          return;
        }
        bool ours = found.token && found.token->session_id == session
                    && found.token->user_id == st.id;
        if (!ours) {
          fail_with_audit(self, invalid_token(),
                          make_audit(now_of(st), audit_event::refresh_failed, origin, st.id,
                                     session, to_string(error_code::invalid_token)),
                          done);
          return;
        }
        with_loaded_session(
          self, session,
          [self, origin, done](session_entry& entry) {
            auto& st = self->state;
            if (entry.missing || !session_usable(entry.row.without_hashes(), st.id, now_of(st))) {
              done(session_revoked());
              return;
            }
            if (auto refused = refuse_write(st)) {
              done(*refused);
              return;
            }
            revoke_for_reuse(self, entry, origin, done);
          },
          [done](const failure& why) { done(for_refresh(why)); });
      },
      [self, done](caf::error&) {
        auto& st = self->state;
        --st.lookups_in_flight;
        done(store_unavailable());
        if (st.current == phase::retiring) ask_retirement(self);
      });
}

} // namespace

void with_session(user_pointer self, const uuid& session, std::function<void(session_entry&)> run,
                  std::function<void(const failure&)> refuse) {
  with_loaded_session(
    self, session,
    [self, run = std::move(run), refuse](session_entry& entry) {
      auto& st = self->state;
      if (entry.missing || !session_usable(entry.row.without_hashes(), st.id, now_of(st))) {
        refuse(session_revoked());
        return;
      }
      run(entry);
    },
    [refuse](const failure& why) { refuse(for_caller(why)); });
}

void open_session(user_pointer self, const std::string& method, const request_origin& origin,
                  grant_reply done) {
  auto& st = self->state;
  if (st.current != phase::active) {
    // The identity created or found this user; gone since is a broken link.
    done(for_refresh(retire_failure(st)));
    return;
  }
  if (auto refused = refuse_write(st)) {
    done(*refused);
    return;
  }
  auto now = now_of(st);
  session_row row;
  row.id = st.context->new_id();
  row.user_id = st.id;
  auto token = make_refresh_token(st.id, row.id);
  row.refresh_hash = sha256_hex(token);
  row.created_at = now;
  row.expires_at = now + micros(st.context->auth.session_ttl);
  write_batch records;
  records.sessions.push_back(row);
  records.refresh_tokens.push_back(refresh_token_row{row.refresh_hash, row.id, st.id, now});
  records.audit.push_back(
    make_audit(now, audit_event::login_succeeded, origin, st.id, row.id, method));
  auto& entry = sessions_of(st).add(row.id, st.writes.committed_token());
  entry.loading = false;
  entry.row.assign(row);
  entry.current_token = std::make_unique<std::string>(token);
  session_grant grant{row.id, std::move(token), view_of(st)};
  write_session_change(
    self, entry, std::move(records), [done, grant] { done(grant); },
    fail_to(done));
}

void refresh(user_pointer self, const uuid& session, const std::string& token,
             const request_origin& origin, grant_reply done) {
  auto hash = sha256_hex(token);
  with_loaded_session(
    self, session,
    [self, session, hash, origin, done](session_entry& entry) mutable {
      auto& st = self->state;
      auto now = now_of(st);
      // Every attempt but a detected reuse spends the session's refresh
      // limit, so forged tokens cannot turn into unbounded store reads and
      // audit writes (at worst they use up this session's 5 per minute).
      if (entry.missing) {
        if (!take_refresh_slot(st, entry, done)) return;
        fail_with_audit(self, invalid_token(),
                        make_audit(now, audit_event::refresh_failed, origin, st.id, session,
                                   to_string(error_code::invalid_token)),
                        done);
        return;
      }
      if (!session_usable(entry.row.without_hashes(), st.id, now)) {
        done(session_revoked());
        return;
      }
      auto verdict = classify_refresh(entry.row.row(), hash, now,
                                      std::chrono::microseconds(micros(st.context->auth.refresh_grace)));
      if (verdict == refresh_verdict::reused) {
        if (auto refused = refuse_write(st))
          done(*refused);
        else
          revoke_for_reuse(self, entry, origin, done);
        return;
      }
      if (auto refused = refuse_write(st)) {
        done(*refused);
        return;
      }
      if (!take_refresh_slot(st, entry, done)) return;
      switch (verdict) {
        case refresh_verdict::unknown:
          check_older_token(self, session, hash, origin, std::move(done));
          return;
        case refresh_verdict::rotate:
          rotate_session(self, entry, origin, "rotated", done);
          return;
        case refresh_verdict::grace: {
          if (!entry.current_token || entry.current_token->empty()) {
            // Issued before a restart or passivation: its plaintext is gone,
            // so the grace answer is a fresh rotation.
            rotate_session(self, entry, origin, "grace_rotated", done);
            return;
          }
          // The current token again, once an audit row commits: that also
          // orders the answer after the rotation that issued the token.
          session_grant grant{entry.row.id(), *entry.current_token, view_of(st)};
          write_batch records;
          records.audit.push_back(
            make_audit(now, audit_event::refreshed, origin, st.id, entry.row.id(), "grace"));
          write_session_change(
            self, entry, std::move(records), [done, grant] { done(grant); },
            fail_to(done));
          return;
        }
        case refresh_verdict::reused: return;  // handled above
      }
    },
    [done](const failure& why) { done(for_refresh(why)); });
}

void logout(user_pointer self, const uuid& session, const request_origin& origin,
            logout_reply done) {
  with_session(
    self, session,
    [self, origin, done](session_entry& entry) {
      auto& st = self->state;
      if (auto refused = refuse_write(st)) {
        done(*refused);
        return;
      }
      revoke_session(
        self, entry, origin, audit_event::logged_out, [done] { done(true); },
        fail_to(done));
    },
    fail_to(done));
}

void me(user_pointer self, const uuid& session, me_reply done) {
  with_session(
    self, session,
    [self, done](session_entry&) { answer_me(self, done); },
    fail_to(done));
}

void drop_sessions(user_pointer self) {
  auto& st = self->state;
  auto waiting = st.sessions.take_all_waiting();
  st.sessions.clear();
  auto why = retire_failure(st);
  for (auto& command : waiting) command(&why);
}

} // namespace tally::user_detail
