// tests/actors/identity_test.cpp: logins end to end on the deterministic
// scheduler — registry, identity and user actors, the real
// writer and readers over the simulated store, virtual time.
#include "tests/actors/auth_fixture.hpp"

#include <set>

#include "protocols/auth_tokens.hpp"
#include "protocols/secrets.hpp"

using namespace tally;
using namespace tally::test;
using namespace std::chrono_literals;


// -- magic links ---------------------------------------------------------------------

TEST_CASE_METHOD(auth_fixture, "a magic link logs in once; the first login creates the user") {
  start();
  auto challenge = request_link(registry, email, {"req-1", "10.0.0.7"});
  run_jobs();
  const auto& issued = ok_value(challenge);
  CHECK(issued.expires_in_s == 900);
  const auto& token = issued.debug_secret;
  REQUIRE(magic_token_identity(token) == identity_id(identity_kind::email, email));

  // Stored as a hash only; the outbox holds the link for the mailer.
  auto link = db->magic_link(sha256_hex(token));
  REQUIRE(link);
  CHECK(link->expires_at == link->created_at + 900'000'000);
  CHECK(link->used_at == 0);
  auto outbox = db->outbox();
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].channel == "email");
  CHECK(outbox[0].destination == email);
  CHECK(outbox[0].body.find("login?token=" + token) != std::string::npos);
  CHECK(db->users_with(identity_kind::email, email).empty());

  auto granted = verify_link(registry, token, {"req-2", "10.0.0.8"});
  run_jobs();
  const auto& grant = ok_value(granted);
  auto users = db->users_with(identity_kind::email, email);
  REQUIRE(users.size() == 1);
  CHECK(grant.user.id == users[0].id);
  CHECK(grant.user.email == email);
  CHECK(grant.user.phone.empty());
  auto session = db->session(grant.session);
  REQUIRE(session);
  CHECK(session->user_id == grant.user.id);
  CHECK(session->refresh_hash == sha256_hex(grant.refresh_token));
  CHECK(refresh_token_route(grant.refresh_token)->session == grant.session);
  CHECK(db->identity(identity_id(identity_kind::email, email))->user_id == grant.user.id);
  CHECK(db->magic_link(sha256_hex(token))->used_at != 0);

  // Single use.
  auto again = verify_link(registry, token);
  run_jobs();
  CHECK(error_of(again) == error_code::invalid_token);

  bool login_audited = false;
  for (const auto& row : db->audit())
    if (row.event == "login_succeeded") {
      login_audited = true;
      CHECK(row.request_id == "req-2");
      CHECK(row.client_ip == "10.0.0.8");
      CHECK(row.user_id == grant.user.id);
      CHECK(row.session_id == grant.session);
      CHECK(row.detail == "magic_link");
    }
  CHECK(login_audited);
  CHECK(audits("login_failed") == 1);
}

TEST_CASE_METHOD(auth_fixture, "20 concurrent first logins of one email create exactly one user") {
  context.auth.magic_link_per_email = rate_limit{20, 1min};
  start();
  std::vector<std::string> tokens;
  for (int i = 0; i < 20; ++i) tokens.push_back(new_link());
  SECTION("links in memory") {}
  SECTION("links from the store (the identity was passivated)") {
    advance(context.passivate_after * 2);
    REQUIRE(active_identities() == 0);
  }
  std::vector<grant_slot> grants;
  for (const auto& token : tokens) grants.push_back(verify_link(registry, token));
  // Every verify is handled before anything commits: the logins must wait
  // for the one user's creation, not race to create or load it.
  run_all_but_writer();
  for (auto& granted : grants) CHECK_FALSE(granted->has_value());
  CHECK(db->users_with(identity_kind::email, email).empty());
  run_jobs();

  std::set<uuid> users;
  std::set<uuid> sessions;
  for (auto& granted : grants) {
    users.insert(ok_value(granted).user.id);
    sessions.insert(ok_value(granted).session);
  }
  CHECK(users.size() == 1);
  CHECK(sessions.size() == 20);
  CHECK(db->users_with(identity_kind::email, email).size() == 1);
  CHECK(audits("login_succeeded") == 20);
}

TEST_CASE_METHOD(auth_fixture, "a magic link expires after 15 minutes") {
  start();
  auto late = new_link();
  auto on_time = new_link();
  advance(900s - 1ms);
  CHECK(login_with(on_time).user.email == email);
  advance(1ms);
  auto expired = verify_link(registry, late);
  run_jobs();
  CHECK(error_of(expired) == error_code::token_expired);
}

TEST_CASE_METHOD(auth_fixture, "a token of an identity that never asked for one creates nothing") {
  start();
  auto nobody = identity_id(identity_kind::email, "nobody@example.com");
  auto granted = verify_link(registry, make_magic_token(nobody));
  run_jobs();
  CHECK(error_of(granted) == error_code::invalid_token);
  CHECK_FALSE(db->identity(nobody));

  // A forged token for a real identity (right id, random secret) is unknown too.
  new_link();
  auto forged = verify_link(registry, make_magic_token(identity_id(identity_kind::email, email)));
  run_jobs();
  CHECK(error_of(forged) == error_code::invalid_token);
}

TEST_CASE_METHOD(auth_fixture, "the first login links an existing user with that email") {
  start();
  user_row existing;
  existing.id = random_uuid();
  existing.email = email;
  db->add_user(existing);
  auto grant = login_with(new_link());
  CHECK(grant.user.id == existing.id);
  CHECK(db->users_with(identity_kind::email, email).size() == 1);
}

TEST_CASE_METHOD(auth_fixture, "magic links are limited to 5 per minute per email") {
  start();
  for (int i = 0; i < 5; ++i) new_link();
  auto sixth = request_link(registry, email);
  auto other = request_link(registry, "bob@example.com");
  run_jobs();
  CHECK(error_of(sixth) == error_code::rate_limited);
  CHECK((*sixth)->error().retry_after_s == 12);
  CHECK(error_of(other) == error_code::none);
  CHECK(db->outbox().size() == 6);  // the refused one sent nothing
}

TEST_CASE_METHOD(auth_fixture, "the per-email limit survives a passivation (its TAT is in the row)") {
  context.auth.magic_link_per_email = rate_limit{2, 1h};  // one per 30 min, burst 2
  start();
  new_link();
  new_link();
  advance(context.passivate_after * 2);
  REQUIRE(active_identities() == 0);
  auto third = request_link(registry, email);
  run_jobs();
  CHECK(error_of(third) == error_code::rate_limited);
  CHECK((*third)->error().retry_after_s == 28 * 60);
}

// -- phone codes ---------------------------------------------------------------------

TEST_CASE_METHOD(auth_fixture, "a phone code logs in once and creates the user with that phone") {
  start();
  auto challenge = request_code(registry, phone);
  run_jobs();
  CHECK(ok_value(challenge).expires_in_s == 300);
  auto code = ok_value(challenge).debug_secret;
  CHECK(code.size() == 6);
  auto stored = db->login_code(identity_id(identity_kind::phone, phone));
  REQUIRE(stored);
  CHECK(stored->code_hash != code);
  CHECK(stored->code_hash.find(code) == std::string::npos);
  auto outbox = db->outbox();
  REQUIRE(outbox.size() == 1);
  CHECK(outbox[0].channel == "sms");
  CHECK(outbox[0].body.find(code) != std::string::npos);

  auto granted = verify_code(registry, phone, code);
  run_jobs();
  CHECK(ok_value(granted).user.phone == phone);
  CHECK(db->users_with(identity_kind::phone, phone).size() == 1);
  auto again = verify_code(registry, phone, code);
  run_jobs();
  CHECK(error_of(again) == error_code::invalid_code);  // burnt
}

TEST_CASE_METHOD(auth_fixture, "wrong codes back off 500 ms x 2^(n-1); the 5th burns the code") {
  start();
  auto code = new_code();
  auto wrong = wrong_than(code);
  auto backoff = 500ms;
  for (int failure = 1; failure <= 4; ++failure) {
    INFO("failure " << failure);
    auto attempt = verify_code(registry, phone, wrong);
    run_jobs();
    REQUIRE(error_of(attempt) == error_code::invalid_code);
    // Inside the back-off: 429 with the wait (whole seconds, rounded up).
    advance(backoff - 1ms);
    auto early = verify_code(registry, phone, code);
    run_jobs();
    CHECK(error_of(early) == error_code::rate_limited);
    CHECK((*early)->error().retry_after_s == 1);
    advance(1ms);
    backoff *= 2;
  }
  CHECK(db->login_code(identity_id(identity_kind::phone, phone))->failures == 4);
  auto fifth = verify_code(registry, phone, wrong);
  run_jobs();
  CHECK(error_of(fifth) == error_code::code_locked);
  advance(1h);
  auto right_but_locked = verify_code(registry, phone, code);
  run_jobs();
  CHECK(error_of(right_but_locked) == error_code::code_locked);

  // A new code replaces the burnt one: failures and lock reset.
  auto fresh = new_code();
  auto stored = db->login_code(identity_id(identity_kind::phone, phone));
  CHECK(stored->failures == 0);
  CHECK_FALSE(stored->locked);
  auto granted = verify_code(registry, phone, fresh);
  run_jobs();
  CHECK(error_of(granted) == error_code::none);
  // Every failed attempt is audited: 4 wrong, 4 early, the 5th, the locked one.
  CHECK(audits("login_failed") == 10);
}

TEST_CASE_METHOD(auth_fixture, "a new code replaces the old one and resets its back-off") {
  start();
  auto old_code = new_code();
  auto failed = verify_code(registry, phone, wrong_than(old_code));
  run_jobs();
  REQUIRE(error_of(failed) == error_code::invalid_code);
  auto new_one = new_code();
  if (new_one == old_code) return;  // 1 in a million: nothing to tell apart
  auto stale = verify_code(registry, phone, old_code);  // no back-off wait: it was reset
  run_jobs();
  CHECK(error_of(stale) == error_code::invalid_code);
  advance(500ms);
  auto granted = verify_code(registry, phone, new_one);
  run_jobs();
  CHECK(error_of(granted) == error_code::none);
}

TEST_CASE_METHOD(auth_fixture, "a code expires after 5 minutes") {
  start();
  auto code = new_code();
  advance(300s);
  auto expired = verify_code(registry, phone, code);
  run_jobs();
  CHECK(error_of(expired) == error_code::code_expired);
}

TEST_CASE_METHOD(auth_fixture, "a code's failures and back-off survive a passivation") {
  context.auth.code_backoff_base = 10min;  // longer than a passivation takes
  context.auth.code_ttl = 1h;
  start();
  auto code = new_code();
  auto failed = verify_code(registry, phone, wrong_than(code));
  run_jobs();
  REQUIRE(error_of(failed) == error_code::invalid_code);
  auto activations = db->identity_activations();
  advance(context.passivate_after * 2);
  REQUIRE(active_identities() == 0);

  // Reloaded from the store: the back-off still runs (8 of 10 minutes left).
  auto early = verify_code(registry, phone, code);
  run_jobs();
  CHECK(db->identity_activations() == activations + 1);
  CHECK(error_of(early) == error_code::rate_limited);
  CHECK((*early)->error().retry_after_s == 8 * 60);
  advance(8min);
  auto granted = verify_code(registry, phone, code);
  run_jobs();
  CHECK(error_of(granted) == error_code::none);
  CHECK(db->login_code(identity_id(identity_kind::phone, phone))->code_hash.empty());
}

TEST_CASE_METHOD(auth_fixture, "codes are limited to 5 per minute per phone") {
  start();
  for (int i = 0; i < 5; ++i) new_code();
  auto sixth = request_code(registry, phone);
  run_jobs();
  CHECK(error_of(sixth) == error_code::rate_limited);
  CHECK((*sixth)->error().retry_after_s == 12);
}

TEST_CASE_METHOD(auth_fixture, "a failed write answers 503 and the identity reloads from the store") {
  start();
  db->fail_next_commits(1, store_fault::permanent);
  auto refused = request_link(registry, email);
  run_jobs();
  CHECK(error_of(refused) == error_code::store_unavailable);
  CHECK(active_identities() == 0);  // retired through the handshake
  CHECK(db->outbox().empty());
  CHECK(login_with(new_link()).user.email == email);
}
