#include "tests/sim/auth_checker.hpp"

#include <utility>

namespace tally::sim {

namespace {

std::string short_id(const uuid& id) {
  return to_string(id).substr(0, 8);
}

} // namespace

size_t auth_checker::add_identity(const std::string& email) {
  identities_.push_back(identity_shadow{email, uuid{}, {}});
  return identities_.size() - 1;
}

void auth_checker::fail(std::string what) {
  if (!violation_) violation_ = std::move(what);
}

bool auth_checker::tolerated(const failure& why) const {
  switch (why.code) {
    case error_code::overloaded: return true;
    case error_code::store_unavailable: return rules_.store_unavailable_allowed;
    case error_code::internal: return rules_.dropped_allowed;
    default: return false;
  }
}

std::optional<size_t> auth_checker::on_verify_reply(const simulated_database& db, size_t identity,
                                                    const std::string& token,
                                                    const outcome<session_grant>& answer) {
  if (violation_) return std::nullopt;
  auto& shadow = identities_.at(identity);
  if (!answer.ok()) {
    const auto& why = answer.error();
    // A used or unknown link, or one that outlived its 15 minutes.
    if (why.code == error_code::invalid_token || why.code == error_code::token_expired
        || tolerated(why))
      return std::nullopt;
    fail("a magic-link login of " + shadow.email + " answered " + describe(why));
    return std::nullopt;
  }
  const auto& grant = answer.value();
  if (!shadow.used_tokens.insert(token).second) {
    fail("a magic link of " + shadow.email + " logged in twice");
    return std::nullopt;
  }
  if (shadow.user.is_nil()) shadow.user = grant.user.id;
  if (grant.user.id != shadow.user)
    fail("two users for one identity: " + shadow.email + " logged in as " + short_id(shadow.user)
         + " and as " + short_id(grant.user.id));
  if (grant.user.email != shadow.email)
    fail("a login of " + shadow.email + " names the email '" + grant.user.email + "'");
  auto in_store = db.users_with(identity_kind::email, shadow.email);
  if (in_store.size() != 1 || in_store[0].id != grant.user.id)
    fail("after a login of " + shadow.email + " the store holds " + std::to_string(in_store.size())
         + " users with that email");
  auto session = db.session(grant.session);
  if (!session || session->user_id != grant.user.id || session->revoked_at != 0)
    fail("a granted session of " + shadow.email + " is not live in the store");
  ++stats_.logins;
  sessions_.push_back(session_shadow{grant.user.id, grant.session, false, std::nullopt});
  return sessions_.size() - 1;
}

void auth_checker::on_sent(size_t session, bool may_revoke) {
  if (may_revoke) sessions_.at(session).may_be_revoked = true;
}

void auth_checker::check_revocation(size_t session, size_t sent_at, bool succeeded,
                                    const char* what) {
  const auto& shadow = sessions_.at(session);
  if (succeeded && shadow.revoked_at && sent_at > *shadow.revoked_at)
    fail(std::string(what) + " with session " + short_id(shadow.id) + " sent at step "
         + std::to_string(sent_at) + " succeeded after its revocation was acknowledged at step "
         + std::to_string(*shadow.revoked_at));
}

void auth_checker::on_session_read_reply(size_t session, size_t sent_at,
                                         const outcome<balance>& answer) {
  if (violation_) return;
  const auto& shadow = sessions_.at(session);
  check_revocation(session, sent_at, answer.ok(), "a balance read");
  if (answer.ok()) {
    if (!(answer.value() == balance{}))
      fail("a balance read of login user " + short_id(shadow.user) + " shows credits it never got");
    return;
  }
  const auto& why = answer.error();
  if (why.code == error_code::session_revoked) {
    ++stats_.refused_revoked;
    if (!shadow.may_be_revoked)
      fail("session " + short_id(shadow.id) + " was refused as revoked, but nobody logged it out "
           "or refreshed it");
    return;
  }
  if (!tolerated(why)) fail("a balance read with a login session answered " + describe(why));
}

void auth_checker::on_logout_reply(const simulated_database& db, size_t session, size_t sent_at,
                                   size_t now, const outcome<bool>& answer) {
  if (violation_) return;
  auto& shadow = sessions_.at(session);
  check_revocation(session, sent_at, answer.ok(), "a logout");
  if (answer.ok()) {
    ++stats_.logouts;
    auto stored = db.session(shadow.id);
    if (!stored || stored->revoked_at == 0)
      fail("an acknowledged logout of " + short_id(shadow.id) + " is not in the store");
    if (!shadow.revoked_at) shadow.revoked_at = now;
    return;
  }
  const auto& why = answer.error();
  if (why.code == error_code::session_revoked || tolerated(why)) return;
  fail("a logout answered " + describe(why));
}

void auth_checker::on_refresh_reply(const simulated_database& db, size_t session, size_t sent_at,
                                    size_t now, const outcome<session_grant>& answer) {
  if (violation_) return;
  auto& shadow = sessions_.at(session);
  check_revocation(session, sent_at, answer.ok(), "a refresh");
  if (answer.ok()) {
    ++stats_.refreshes;
    const auto& grant = answer.value();
    if (grant.session != shadow.id || grant.user.id != shadow.user)
      fail("a refresh of session " + short_id(shadow.id) + " granted another session or user");
    return;
  }
  const auto& why = answer.error();
  switch (why.code) {
    case error_code::refresh_token_reused: {
      ++stats_.reuses;
      auto stored = db.session(shadow.id);
      if (!stored || stored->revoked_at == 0)
        fail("a detected reuse of " + short_id(shadow.id) + " did not revoke it in the store");
      if (!shadow.revoked_at) shadow.revoked_at = now;
      return;
    }
    case error_code::session_revoked: return;
    default:
      if (!tolerated(why)) fail("a refresh answered " + describe(why));
  }
}

void auth_checker::on_challenge_reply(const outcome<login_challenge>& answer) {
  if (violation_ || answer.ok()) return;
  if (!tolerated(answer.error())) fail("a magic-link request answered " + describe(answer.error()));
}

void auth_checker::on_unknown_verify_reply(const uuid& id, bool actor_live,
                                           const outcome<session_grant>& answer) {
  if (violation_) return;
  unknown_.insert(id);
  if (answer.ok()) {
    fail("a made-up magic link of an identity never requested logged in");
    return;
  }
  if (answer.error().code == error_code::invalid_token)
    ++stats_.unknown_refused;
  else if (!tolerated(answer.error()))
    fail("a made-up magic link was answered " + describe(answer.error()));
  if (actor_live) fail("an identity never requested has an actor");
}

void auth_checker::final_checks(const simulated_database& db) {
  if (violation_) return;
  for (const auto& id : unknown_)
    if (db.identity(id)) fail("the store holds a row for an identity never requested");
  for (const auto& identity : identities_) {
    auto users = db.users_with(identity_kind::email, identity.email);
    if (users.size() > 1)
      fail("the store holds " + std::to_string(users.size()) + " users for " + identity.email);
    if (!identity.user.is_nil() && (users.empty() || users[0].id != identity.user))
      fail("the user of " + identity.email + " is not the one its logins named");
  }
}

} // namespace tally::sim
