#include "actors/identity.hpp"
#include "actors/load_refusal.hpp"

#include <functional>
#include <utility>

#include "caf/all.hpp"

#include "actors/audit.hpp"
#include "actors/audit_budget.hpp"
#include "actors/lifecycle.hpp"
#include "actors/login_decisions.hpp"
#include "actors/rate_limit.hpp"
#include "protocols/auth_tokens.hpp"
#include "protocols/log.hpp"
#include "protocols/secrets.hpp"

namespace tally {

namespace {

using identity_pointer = identity_actor::stateful_pointer<identity_state>;
using phase = identity_state::phase;

/// Digits of a phone code (API.md).
constexpr size_t code_digits = 6;
/// Where the magic-link URL template takes the token.
constexpr std::string_view token_placeholder = "{token}";
/// Login methods, as the audit log names them.
constexpr const char* method_magic_link = "magic_link";
constexpr const char* method_code = "code";

// -- answers -------------------------------------------------------------------------

failure store_unavailable() {
  return {error_code::store_unavailable, "the store is unavailable; retry", identity_retry_after_s};
}

failure rate_limited(const char* why, int64_t retry_after_us) {
  return {error_code::rate_limited, why, retry_after_seconds(retry_after_us)};
}

failure refusal(error_code code) {
  return login_refusal(code);
}

timestamp_us now_of(const identity_state& st) {
  return st.context->clock();
}

std::optional<failure> refuse_write(const identity_state& st) {
  return st.writes.refuse(*st.context, "identity", identity_retry_after_s);
}

const rate_limit& request_limit(const identity_state& st) {
  const auto& auth = st.context->auth;
  return st.row.kind == identity_kind::email ? auth.magic_link_per_email : auth.code_per_phone;
}

// -- writes --------------------------------------------------------------------------

/// Hands `records` to the writer. Once active, every write carries the
/// identity row, so it is fenced by the owner epoch (a node that lost this
/// identity cannot commit anything for it).
void write(identity_pointer self, write_batch records, std::function<void()> on_commit,
           std::function<void(const failure&)> on_fail) {
  auto& st = self->state;
  if (st.current == phase::active) records.identities.push_back(st.row);
  st.writes.submit(self, st.id, st.row.owner_epoch, std::move(records),
                   identity_write{0, std::move(on_commit), std::move(on_fail)});
}

/// Fails everything owed and hands the actor back to the registry; the
/// next command re-activates a fresh actor from the store.
void retire(identity_pointer self) {
  auto& st = self->state;
  st.current = phase::retiring;
  st.retire_code = error_code::store_unavailable;
  auto writes = st.writes.take_all();
  st.links.clear();
  st.code.reset();
  auto why = store_unavailable();
  for (auto& pending : writes) pending.on_fail(why);
  ask_retirement(self);
}

/// Answers a failed login attempt once its audit row (and whatever else in
/// `records`, e.g. a counted code failure) is committed. The audit row is
/// sampled (audit_budget.hpp): without it and nothing else to write, the
/// refusal is answered at once.
template <class Reply>
void fail_with_audit(identity_pointer self, const failure& why, const char* detail,
                     const request_origin& origin, Reply done, write_batch records = {}) {
  auto& st = self->state;
  auto now = now_of(st);
  if (auto dropped = admit_audit(st.context->login_failure_audits, now))
    records.audit.push_back(make_audit(now, audit_event::login_failed, origin, st.row.user_id,
                                       uuid{}, audit_detail_after_gap(detail, *dropped)));
  if (records.empty()) {
    done(why);
    return;
  }
  write(
    self, std::move(records), [done, why] { done(why); },
    [done](const failure& f) { done(f); });
}

// -- activation ----------------------------------------------------------------------

void activate_with(identity_state& st, identity_snapshot& snapshot) {
  st.row = std::move(snapshot.identity);
  st.code = std::move(snapshot.code);
  st.current = phase::active;
}

/// Runs `then` once the identity is active, loading it (and creating its
/// row) for `kind`/`value` first if needed. A failed load leaves it
/// unresolved: the next command tries again.
void ensure_active(identity_pointer self, identity_kind kind, const std::string& value,
                   std::function<void()> then, std::function<void(const failure&)> refuse) {
  auto& st = self->state;
  if (st.current == phase::active) {
    then();
    return;
  }
  if (st.current == phase::retiring) {
    refuse(store_unavailable());
    return;
  }
  self->request(st.reader, caf::infinite, load_identity_atom_v, st.id, kind, value, now_of(st))
    .await(
      [self, then](identity_snapshot& snapshot) {
        activate_with(self->state, snapshot);
        then();
      },
      [refuse](caf::error& err) { refuse(load_refusal(err, store_unavailable())); });
}

// -- magic links ---------------------------------------------------------------------

/// Remembers a link; drops the least recently used committed ones beyond
/// the bound (they are still in the store).
known_link& remember_link(identity_state& st, const magic_link_row& row) {
  auto& known = st.links[row.token_hash];
  known.row = row;
  known.last_used = ++st.link_clock;
  while (st.links.size() > magic_links_cached_max) {
    auto oldest = st.links.end();
    for (auto i = st.links.begin(); i != st.links.end(); ++i)
      if (i->second.write_token <= st.writes.committed_token()
          && (oldest == st.links.end() || i->second.last_used < oldest->second.last_used))
        oldest = i;
    if (oldest == st.links.end() || oldest->first == row.token_hash) break;
    st.links.erase(oldest);
  }
  return st.links[row.token_hash];
}

/// A successful verification: the used-mark (or burnt code) in `records`
/// commits first, then the user actor is asked to open a session.
///
/// Waiting for that commit is what makes a link single-use under failures:
/// were the session opened at once, a batch given up for good could lose the
/// mark while the session (another entity's write) still commits, and the
/// link would log in twice (the simulation found exactly that).
///
/// The first login also creates the user, in the same write. The identity
/// row carries the new user id from then on, in this write and every later
/// one, and writes commit in order: every later login's commit comes after
/// the user's, so concurrent first logins make exactly one user.
void complete_login(identity_pointer self, const char* method, const request_origin& origin,
                    grant_reply done, write_batch records) {
  auto& st = self->state;
  if (st.row.user_id.is_nil()) {
    user_row user;
    user.id = st.context->new_id();
    (st.row.kind == identity_kind::email ? user.email : user.phone) = st.row.value;
    user.created_at = now_of(st);
    st.row.user_id = user.id;
    records.new_users.push_back(std::move(user));
  }
  write(
    self, std::move(records),
    [self, method = std::string(method), origin, done]() mutable {
      auto& st = self->state;
      // Identity -> user goes through the registry like any command.
      self->send(st.registry, st.row.user_id,
                 to_entity_command(open_session_request{std::move(method), std::move(origin)}),
                 completion{std::move(done)});
    },
    fail_to(done));
}

/// Judges a link this identity found (nullptr = unknown).
void judge_link(identity_pointer self, known_link* known, const request_origin& origin,
                grant_reply done) {
  auto& st = self->state;
  auto now = now_of(st);
  bool ours = st.row.kind == identity_kind::email;
  switch (decide_link(ours && known ? &known->row : nullptr, now)) {
    case link_verdict::unknown:
      fail_with_audit(self, refusal(error_code::invalid_token), "unknown_token", origin, done);
      return;
    case link_verdict::used:
      fail_with_audit(self, refusal(error_code::invalid_token), "used_token", origin, done);
      return;
    case link_verdict::expired:
      fail_with_audit(self, refusal(error_code::token_expired), "token_expired", origin, done);
      return;
    case link_verdict::valid: break;
  }
  known->row.used_at = now;  // at once: a second verify finds it used
  write_batch records;
  records.magic_links.push_back(known->row);
  complete_login(self, method_magic_link, origin, std::move(done), std::move(records));
  known->write_token = st.writes.last_token();
}

/// A link not in memory: the store decides (a hash it does not know, or
/// one of another identity, is unknown).
void look_up_link(identity_pointer self, const std::string& hash,
                  std::function<void(std::optional<magic_link_row>)> then,
                  std::function<void(const failure&)> refuse) {
  auto& st = self->state;
  self->request(st.reader, caf::infinite, find_link_atom_v, hash)
    .await(
      [self, then](magic_link_lookup& found) {
        if (found.link && found.link->identity_id != self->state.id) found.link.reset();
        then(std::move(found.link));
      },
      [refuse](caf::error&) { refuse(store_unavailable()); });
}

void verify_link(identity_pointer self, const std::string& token, const request_origin& origin,
                 grant_reply done) {
  auto& st = self->state;
  if (st.current == phase::retiring) {
    done(store_unavailable());
    return;
  }
  if (auto refused = refuse_write(st)) {
    done(*refused);
    return;
  }
  // Found by its SHA-256: a lookup by hash reveals nothing about the token.
  auto hash = sha256_hex(token);
  auto refuse = fail_to(done);
  if (st.current == phase::active) {
    auto known = st.links.find(hash);
    if (known != st.links.end() && constant_time_equal(known->first, hash)) {
      known->second.last_used = ++st.link_clock;
      judge_link(self, &known->second, origin, done);
      return;
    }
    look_up_link(
      self, hash,
      [self, origin, done](std::optional<magic_link_row> link) {
        auto& st = self->state;
        judge_link(self, link ? &remember_link(st, *link) : nullptr, origin, done);
      },
      refuse);
    return;
  }
  // Unresolved: the token names this identity but not its email. A link
  // exists only if this identity issued it, and then its row exists too, so
  // loading with an empty value finds that row and creates nothing.
  look_up_link(
    self, hash,
    [self, origin, done](std::optional<magic_link_row> link) {
      if (!link) {
        fail_with_audit(self, refusal(error_code::invalid_token), "unknown_token", origin, done);
        return;
      }
      ensure_active(
        self, identity_kind::email, std::string{},
        [self, link, origin, done] {
          judge_link(self, &remember_link(self->state, *link), origin, done);
        },
        fail_to(done));
    },
    refuse);
}

/// How a dev-mode log line names an issued challenge.
struct challenge_log {
  const char* message;
  const char* destination_field;
  const char* secret_field;
};

/// Writes a new link's or code's records and answers with the challenge
/// once they are committed; in dev mode the secret is logged too.
void write_challenge(identity_pointer self, write_batch records, login_challenge challenge,
                     challenge_log logged, challenge_reply done) {
  auto& st = self->state;
  bool dev = st.context->auth.dev;
  auto destination = st.row.value;
  write(
    self, std::move(records),
    [done, challenge, dev, destination, logged] {
      if (dev)
        log_event(log_level::info, logged.message,
                  {{logged.destination_field, std::string_view(destination)},
                   {logged.secret_field, std::string_view(challenge.debug_secret)}});
      done(challenge);
    },
    fail_to(done));
}

std::string magic_link_body(const auth_config& auth, const std::string& token) {
  auto url = auth.magic_link_url;
  auto at = url.find(token_placeholder);
  if (at != std::string::npos)
    url.replace(at, token_placeholder.size(), token);
  else
    url += token;
  auto minutes = std::chrono::duration_cast<std::chrono::minutes>(auth.magic_link_ttl).count();
  return "Sign in to Tally: " + url + "\nThe link works once, for "
         + (minutes > 0 ? std::to_string(minutes) + " minutes."
                        : std::to_string(auth.magic_link_ttl.count()) + " seconds.");
}

/// Per email here; the per-client-IP limit was spent at the login gate
/// (login_gate.hpp), before this actor or its row existed.
void issue_magic_link(identity_pointer self, challenge_reply done) {
  auto& st = self->state;
  auto now = now_of(st);
  auto limit = gcra(st.row.request_limit_tat, now, request_limit(st));
  if (!limit.allowed) {
    done(rate_limited("too many magic links for this email", limit.retry_after_us));
    return;
  }
  const auto& auth = st.context->auth;
  st.row.request_limit_tat = limit.tat;
  auto token = make_magic_token(st.id);
  magic_link_row link{sha256_hex(token), st.id, now, now + micros(auth.magic_link_ttl), 0};
  write_batch records;
  records.magic_links.push_back(link);
  records.outbox.push_back(outbox_row{random_uuid(), "email", st.row.value,
                                      magic_link_body(auth, token), now});
  remember_link(st, link);
  login_challenge challenge{static_cast<int>(auth.magic_link_ttl.count()),
                            auth.dev ? token : std::string{}};
  write_challenge(self, std::move(records), std::move(challenge),
                  {"magic link issued (dev mode)", "email", "debug_token"}, std::move(done));
  st.links[link.token_hash].write_token = st.writes.last_token();
}

// -- phone codes -----------------------------------------------------------------------

void issue_code(identity_pointer self, challenge_reply done) {
  auto& st = self->state;
  const auto& auth = st.context->auth;
  auto now = now_of(st);
  auto limit = gcra(st.row.request_limit_tat, now, request_limit(st));
  if (!limit.allowed) {
    done(rate_limited("too many codes for this phone", limit.retry_after_us));
    return;
  }
  st.row.request_limit_tat = limit.tat;
  auto code = random_digits(code_digits);
  // A new code replaces the old one whatever its state: failures and lock reset.
  login_code_row row;
  row.identity_id = st.id;
  row.code_hash = code_hash(auth.code_pepper, code);
  row.created_at = now;
  row.expires_at = now + micros(auth.code_ttl);
  st.code = row;
  write_batch records;
  records.login_codes.push_back(row);
  records.outbox.push_back(
    outbox_row{random_uuid(), "sms", st.row.value, "Your Tally code is " + code, now});
  login_challenge challenge{static_cast<int>(auth.code_ttl.count()),
                            auth.dev ? code : std::string{}};
  write_challenge(self, std::move(records), std::move(challenge),
                  {"login code issued (dev mode)", "phone", "debug_code"}, std::move(done));
}

void judge_code(identity_pointer self, const std::string& code, const request_origin& origin,
                grant_reply done) {
  auto& st = self->state;
  const auto& auth = st.context->auth;
  auto attempt = decide_code(st.code, code_hash(auth.code_pepper, code), now_of(st), auth);
  write_batch records;
  if (attempt.changed) {
    st.code = attempt.after;
    records.login_codes.push_back(attempt.after);
  }
  switch (attempt.verdict) {
    case code_verdict::no_code:
      fail_with_audit(self, refusal(error_code::invalid_code), "no_code", origin, done);
      return;
    case code_verdict::locked:
      fail_with_audit(self, refusal(error_code::code_locked), "code_locked", origin, done);
      return;
    case code_verdict::too_early:
      fail_with_audit(self, rate_limited("wait before trying another code", attempt.retry_after_us),
                      "too_early", origin, done);
      return;
    case code_verdict::expired:
      fail_with_audit(self, refusal(error_code::code_expired), "code_expired", origin, done);
      return;
    case code_verdict::wrong:
      fail_with_audit(self, refusal(error_code::invalid_code), "wrong_code", origin, done,
                      std::move(records));
      return;
    case code_verdict::wrong_locked:
      fail_with_audit(self, refusal(error_code::code_locked), "wrong_code_locked", origin, done,
                      std::move(records));
      return;
    case code_verdict::right:
      complete_login(self, method_code, origin, std::move(done), std::move(records));
      return;
  }
}

/// Common entry of every identity command: counted for the handshake,
/// refused while retiring or when no write can be accepted.
template <class Reply>
bool admit(identity_pointer self, Reply& done) {
  auto& st = self->state;
  if (st.current == phase::retiring) {
    done(store_unavailable());
    return false;
  }
  if (auto refused = refuse_write(st)) {
    done(*refused);
    return false;
  }
  return true;
}

// -- commands (protocols/commands.hpp) ---------------------------------------------

void handle(identity_pointer self, magic_link_request& cmd, challenge_reply done) {
  if (admit(self, done))
    ensure_active(
      self, identity_kind::email, cmd.email,
      [self, done] { issue_magic_link(self, done); }, fail_to(done));
}

void handle(identity_pointer self, verify_link_request& cmd, grant_reply done) {
  verify_link(self, cmd.token, cmd.origin, std::move(done));
}

void handle(identity_pointer self, code_request& cmd, challenge_reply done) {
  if (admit(self, done))
    ensure_active(
      self, identity_kind::phone, cmd.phone, [self, done] { issue_code(self, done); },
      fail_to(done));
}

void handle(identity_pointer self, verify_code_request& cmd, grant_reply done) {
  if (admit(self, done))
    ensure_active(
      self, identity_kind::phone, cmd.phone,
      [self, code = cmd.code, origin = cmd.origin, done] { judge_code(self, code, origin, done); },
      fail_to(done));
}

void handle(identity_pointer self, find_user_request& cmd, reply<user_lookup> done) {
  if (admit(self, done))
    ensure_active(
      self, identity_kind::email, cmd.email,
      [self, done] { done(user_lookup{self->state.row.user_id}); }, fail_to(done));
}

} // namespace

identity_actor::behavior_type identity_behavior(identity_pointer self, uuid id, uint64_t activation,
                                                registry_actor registry, reader_actor reader,
                                                const entity_context* context) {
  auto& st = self->state;
  init_entity_state(st, id, activation, std::move(registry), std::move(reader), context);
  return {
    [self](entity_command& command, completion& done) {
      handle_command<identity_command>(self, command, done,
                     [self](auto& cmd, auto answer) { handle(self, cmd, std::move(answer)); });
    },
    [self](committed_atom, uint64_t token) { run_committed_callbacks(self, token); },
    [self](write_failed_atom, uint64_t token) {
      retire_after_write_failure(self, token, "identity", retire);
    },
    [self](idle_query_atom) { answer_idle_query(self); },
    [self](sync_atom) { answer_sync(self); },
    [self](passivate_atom) { self->quit(); },
  };
}

} // namespace tally
