// tests/actors/user_sessions_test.cpp: sessions in the user actor
// (actors/user_sessions.cpp) end to end — login, refresh rotation, the grace
// window, reuse detection, logout and the session check on every command —
// on the deterministic scheduler with virtual time.
#include "tests/actors/auth_fixture.hpp"

#include "actors/caf_gateway.hpp"
#include "protocols/auth_tokens.hpp"
#include "protocols/secrets.hpp"

using namespace tally;
using namespace tally::test;
using namespace std::chrono_literals;

namespace {

struct session_fixture : auth_fixture {
  session_fixture() { start(); }

  /// A fresh login by phone code: the grant and the caller it authorises.
  session_grant log_in() {
    auto granted = verify_code(registry, phone, new_code());
    run_jobs();
    return ok_value(granted);
  }

  static caller who_of(const session_grant& grant) { return caller{grant.user.id, grant.session}; }

  grant_slot refreshed(const std::string& token) {
    auto slot = refresh(registry, token);
    run_jobs();
    return slot;
  }

  error_code balance_error(const caller& who) {
    auto bal = get_balance(registry, who);
    run_jobs();
    return error_of(bal);
  }
};

} // namespace

TEST_CASE_METHOD(session_fixture, "a login's session authorises the user's commands") {
  auto grant = log_in();
  auto who = who_of(grant);
  CHECK(balance_error(who) == error_code::none);
  auto profile = me(registry, who);
  run_jobs();
  CHECK(ok_value(profile).user.id == grant.user.id);
  CHECK(ok_value(profile).user.phone == phone);
  CHECK(ok_value(profile).user.created_at > 0);
  CHECK(ok_value(profile).tenants.empty());

  // Another user's session, or a session id that does not exist: refused.
  auto stranger = new_user({5, 0});
  CHECK(balance_error(caller{stranger, grant.session}) == error_code::session_revoked);
  CHECK(balance_error(caller{grant.user.id, random_uuid()}) == error_code::session_revoked);
}

TEST_CASE_METHOD(session_fixture, "a refresh rotates the token; the old one is rotated out") {
  auto grant = log_in();
  auto first = refreshed(grant.refresh_token);
  const auto& rotated = ok_value(first);
  CHECK(rotated.session == grant.session);
  CHECK(rotated.user.id == grant.user.id);
  CHECK(rotated.refresh_token != grant.refresh_token);
  auto row = db->session(grant.session);
  REQUIRE(row);
  CHECK(row->refresh_hash == sha256_hex(rotated.refresh_token));
  CHECK(row->previous_refresh_hash == sha256_hex(grant.refresh_token));
  CHECK(db->refresh_token_count() == 2);

  auto second = refreshed(rotated.refresh_token);
  CHECK(ok_value(second).refresh_token != rotated.refresh_token);
  CHECK(audits("refreshed") == 2);
}

TEST_CASE_METHOD(session_fixture, "within 10 s the rotated-out token returns the current one") {
  auto grant = log_in();
  auto rotated = ok_value(refreshed(grant.refresh_token)).refresh_token;
  advance(10s);
  auto again = refreshed(grant.refresh_token);
  CHECK(ok_value(again).refresh_token == rotated);
  CHECK(ok_value(again).session == grant.session);
  CHECK(balance_error(who_of(grant)) == error_code::none);
  CHECK(db->session(grant.session)->refresh_hash == sha256_hex(rotated));
}

TEST_CASE_METHOD(session_fixture, "after 10 s the rotated-out token is reuse: the session is revoked") {
  auto grant = log_in();
  auto rotated = ok_value(refreshed(grant.refresh_token)).refresh_token;
  advance(10s + 1ms);
  auto reused = refreshed(grant.refresh_token);
  CHECK(error_of(reused) == error_code::refresh_token_reused);
  CHECK(db->session(grant.session)->revoked_at != 0);
  CHECK(audits("refresh_reuse_detected") == 1);
  // The whole session: its access tokens and its current refresh token.
  CHECK(balance_error(who_of(grant)) == error_code::session_revoked);
  CHECK(error_of(refreshed(rotated)) == error_code::session_revoked);
}

TEST_CASE_METHOD(session_fixture, "an older rotated-out token (from the store) is reuse too") {
  auto grant = log_in();
  auto second = ok_value(refreshed(grant.refresh_token)).refresh_token;
  auto third = ok_value(refreshed(second)).refresh_token;
  // The first token is neither current nor previous: the store knows it.
  auto reads = db->token_reads();
  auto reused = refreshed(grant.refresh_token);
  CHECK(error_of(reused) == error_code::refresh_token_reused);
  CHECK(db->token_reads() == reads + 1);
  CHECK(balance_error(who_of(grant)) == error_code::session_revoked);
  CHECK(error_of(refreshed(third)) == error_code::session_revoked);
}

TEST_CASE_METHOD(session_fixture, "unknown and malformed refresh tokens are INVALID_TOKEN") {
  auto grant = log_in();
  // Right user and session, random secret: not a token this session ever had.
  auto forged = refreshed(make_refresh_token(grant.user.id, grant.session));
  CHECK(error_of(forged) == error_code::invalid_token);
  // A session that does not exist.
  auto nowhere = refreshed(make_refresh_token(grant.user.id, random_uuid()));
  CHECK(error_of(nowhere) == error_code::invalid_token);
  // A user that does not exist.
  auto nobody = refreshed(make_refresh_token(random_uuid(), random_uuid()));
  CHECK(error_of(nobody) == error_code::invalid_token);
  // The session is untouched by the forgery.
  CHECK(error_of(refreshed(grant.refresh_token)) == error_code::none);
  CHECK(audits("refresh_failed") == 2);

  // Malformed: refused by the gateway, no actor involved.
  caf_gateway gate{registry, health};
  auto [done, result] = capture<session_grant>();
  gate.refresh("not-a-token", request_origin{}, std::move(done));
  CHECK(error_of(result) == error_code::invalid_token);
  auto [link_done, link_result] = capture<session_grant>();
  gate.verify_magic_link("", request_origin{}, std::move(link_done));
  CHECK(error_of(link_result) == error_code::invalid_token);
}

TEST_CASE_METHOD(session_fixture, "refreshes are limited to 5 per minute per session") {
  auto token = log_in().refresh_token;
  for (int i = 0; i < 5; ++i) token = ok_value(refreshed(token)).refresh_token;
  auto sixth = refreshed(token);
  CHECK(error_of(sixth) == error_code::rate_limited);
  CHECK((*sixth)->error().retry_after_s == 12);
  advance(12s);
  CHECK(error_of(refreshed(token)) == error_code::none);
}

TEST_CASE_METHOD(session_fixture, "forged refresh tokens spend the session's limit, not the store") {
  auto grant = log_in();
  auto reads = db->token_reads();
  for (int i = 0; i < 5; ++i)
    CHECK(error_of(refreshed(make_refresh_token(grant.user.id, grant.session)))
          == error_code::invalid_token);
  CHECK(db->token_reads() == reads + 5);
  auto sixth = refreshed(make_refresh_token(grant.user.id, grant.session));
  CHECK(error_of(sixth) == error_code::rate_limited);
  CHECK(db->token_reads() == reads + 5);
  // A detected reuse is never held back by the limit.
  auto rotated_out = grant.refresh_token;
  advance(12s);
  REQUIRE(error_of(refreshed(rotated_out)) == error_code::none);  // a rotation: the limit is spent
  advance(11s);
  CHECK(error_of(refreshed(make_refresh_token(grant.user.id, grant.session)))
        == error_code::rate_limited);
  CHECK(error_of(refreshed(rotated_out)) == error_code::refresh_token_reused);
}

TEST_CASE_METHOD(session_fixture, "logout revokes the session at once, on every command") {
  auto grant = log_in();
  auto who = who_of(grant);
  auto bye = logout(registry, who, {"req-bye", "10.0.0.9"});
  run_jobs();
  CHECK(ok_value(bye));
  CHECK(db->session(grant.session)->revoked_at != 0);
  CHECK(balance_error(who) == error_code::session_revoked);
  auto charged = charge(registry, who, 1);
  auto profile = me(registry, who);
  auto again = logout(registry, who);
  run_jobs();
  CHECK(error_of(charged) == error_code::session_revoked);
  CHECK(error_of(profile) == error_code::session_revoked);
  CHECK(error_of(again) == error_code::session_revoked);
  CHECK(error_of(refreshed(grant.refresh_token)) == error_code::session_revoked);
  bool audited = false;
  for (const auto& row : db->audit())
    if (row.event == "logged_out")
      audited = row.request_id == "req-bye" && row.session_id == grant.session;
  CHECK(audited);

  // Another session of the same user is not affected.
  auto other = log_in();
  CHECK(balance_error(who_of(other)) == error_code::none);
}

TEST_CASE_METHOD(session_fixture, "a revoked session stays revoked after the user reloads") {
  auto grant = log_in();
  auto bye = logout(registry, who_of(grant));
  run_jobs();
  REQUIRE(ok_value(bye));
  advance(context.passivate_after * 2);
  REQUIRE(process_metrics.active_actors.Add({{"kind", "user"}}).Value() == 0);
  CHECK(balance_error(who_of(grant)) == error_code::session_revoked);
}

TEST_CASE_METHOD(session_fixture, "an unknown session is loaded from the store once") {
  auto id = new_user({7, 0});
  auto who = caller_of(id);  // a session made outside the actor (tally mint-token)
  auto reads = db->session_reads();
  auto a = get_balance(registry, who);
  auto b = get_balance(registry, who);
  auto c = charge(registry, who, 2);
  run_jobs();
  CHECK(ok_value(a) == balance{7, 0});
  CHECK(ok_value(b) == balance{7, 0});
  CHECK(ok_value(c).result.available == 5);
  CHECK(balance_error(who) == error_code::none);
  CHECK(db->session_reads() == reads + 1);

  // A revoked session is remembered too: using it again costs no read.
  auto bye = logout(registry, who);
  run_jobs();
  REQUIRE(ok_value(bye));
  CHECK(balance_error(who) == error_code::session_revoked);
  CHECK(balance_error(who) == error_code::session_revoked);
  CHECK(db->session_reads() == reads + 1);
}

TEST_CASE_METHOD(session_fixture, "a session expires 30 days after its last refresh") {
  auto grant = log_in();
  advance(std::chrono::hours(24 * 20));
  auto token = ok_value(refreshed(grant.refresh_token)).refresh_token;  // slides the expiry
  advance(std::chrono::hours(24 * 20));
  CHECK(balance_error(who_of(grant)) == error_code::none);
  advance(std::chrono::hours(24 * 10));
  CHECK(balance_error(who_of(grant)) == error_code::session_revoked);
  CHECK(error_of(refreshed(token)) == error_code::session_revoked);
}

TEST_CASE_METHOD(session_fixture, "after a reload the grace answer is a fresh rotation") {
  auto grant = log_in();
  auto rotated = ok_value(refreshed(grant.refresh_token)).refresh_token;
  // The user reloads (its memory of the current plaintext is gone) within
  // the grace window: a longer one, so that passivation fits in it.
  context.auth.refresh_grace = std::chrono::hours(1);
  advance(context.passivate_after * 2);
  REQUIRE(process_metrics.active_actors.Add({{"kind", "user"}}).Value() == 0);
  auto again = refreshed(grant.refresh_token);
  const auto& fresh = ok_value(again);
  CHECK(fresh.session == grant.session);
  CHECK(fresh.refresh_token != rotated);
  CHECK(fresh.refresh_token != grant.refresh_token);
  CHECK(db->session(grant.session)->refresh_hash == sha256_hex(fresh.refresh_token));
  CHECK(error_of(refreshed(fresh.refresh_token)) == error_code::none);
}

TEST_CASE_METHOD(session_fixture, "a failed session write answers 503; memory does not run ahead") {
  auto grant = log_in();
  db->fail_next_commits(1, store_fault::permanent);
  auto bye = logout(registry, who_of(grant));
  run_jobs();
  CHECK(error_of(bye) == error_code::store_unavailable);
  CHECK(db->session(grant.session)->revoked_at == 0);
  // The user reloaded from the store, where the session is still live: a
  // retry of the logout succeeds.
  auto retry = logout(registry, who_of(grant));
  run_jobs();
  CHECK(ok_value(retry));
  CHECK(balance_error(who_of(grant)) == error_code::session_revoked);
}
