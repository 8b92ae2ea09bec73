// tests/sim/auth_checker_test.cpp: the simulation's auth oracle catches each
// kind of violation it claims to catch, and stays quiet on a correct history.
#include <catch2/catch.hpp>

#include <memory>
#include <string>

#include "tests/sim/auth_checker.hpp"
#include "tests/sim/simulated_store.hpp"

using namespace tally;
using namespace tally::sim;

namespace {

const std::string email = "ada@sim.test";

struct auth_checker_fixture {
  auth_checker_fixture() { identity = checker.add_identity(email); }

  /// A user with that email and a live session in the store, and the grant
  /// a login would have answered.
  session_grant stored_login(const uuid& user) {
    if (!db->user(user)) {
      user_row row;
      row.id = user;
      row.email = email;
      db->add_user(row);
    }
    session_row session;
    session.id = random_uuid();
    session.user_id = user;
    session.refresh_hash = "hash-" + to_string(session.id);
    session.expires_at = 1;
    db->create_session(session, refresh_token_row{session.refresh_hash, session.id, user, 0});
    return session_grant{session.id, "token", user_view{user, email, {}, 0}};
  }

  /// Marks the stored session revoked, as a committed logout leaves it.
  void revoke_in_store(const session_grant& grant) {
    auto row = *db->session(grant.session);
    row.revoked_at = 1;
    write_batch batch;
    batch.sessions.push_back(row);
    db->commit(batch);
  }

  std::shared_ptr<simulated_database> db = std::make_shared<simulated_database>();
  auth_checker checker{checker_rules{}};
  size_t identity = 0;
};

} // namespace

TEST_CASE_METHOD(auth_checker_fixture, "an honest history of logins and a logout passes") {
  auto user = random_uuid();
  auto grant = stored_login(user);
  auto session = checker.on_verify_reply(*db, identity, "t1", grant);
  REQUIRE(session);
  auto second = checker.on_verify_reply(*db, identity, "t2", stored_login(user));
  REQUIRE(second);
  checker.on_verify_reply(*db, identity, "t1", failure{error_code::invalid_token, "used", 0});
  checker.on_sent(*session, false);
  checker.on_session_read_reply(*session, 1, balance{});
  checker.on_sent(*session, true);
  revoke_in_store(grant);
  checker.on_logout_reply(*db, *session, 2, 3, true);
  checker.on_session_read_reply(*session, 4, failure{error_code::session_revoked, "", 0});
  checker.final_checks(*db);
  CHECK(checker.ok());
  CHECK(checker.stats().logins == 2);
}

TEST_CASE_METHOD(auth_checker_fixture, "a magic link that logs in twice is caught") {
  auto user = random_uuid();
  checker.on_verify_reply(*db, identity, "t1", stored_login(user));
  checker.on_verify_reply(*db, identity, "t1", stored_login(user));
  REQUIRE_FALSE(checker.ok());
  CHECK(checker.violation()->find("logged in twice") != std::string::npos);
}

TEST_CASE_METHOD(auth_checker_fixture, "two users for one identity are caught") {
  checker.on_verify_reply(*db, identity, "t1", stored_login(random_uuid()));
  checker.on_verify_reply(*db, identity, "t2", stored_login(random_uuid()));
  REQUIRE_FALSE(checker.ok());
  CHECK(checker.violation()->find("two users for one identity") != std::string::npos);
}

TEST_CASE_METHOD(auth_checker_fixture, "a command succeeding after an acknowledged revocation is caught") {
  auto grant = stored_login(random_uuid());
  auto session = *checker.on_verify_reply(*db, identity, "t1", grant);
  checker.on_sent(session, true);
  revoke_in_store(grant);
  checker.on_logout_reply(*db, session, 1, 2, true);
  // Sent at step 2, with the acknowledgement: not yet "later".
  checker.on_session_read_reply(session, 2, balance{});
  REQUIRE(checker.ok());
  checker.on_session_read_reply(session, 3, balance{});
  REQUIRE_FALSE(checker.ok());
  CHECK(checker.violation()->find("after its revocation") != std::string::npos);
}

TEST_CASE_METHOD(auth_checker_fixture, "an acknowledged logout missing from the store is caught") {
  auto session = *checker.on_verify_reply(*db, identity, "t1", stored_login(random_uuid()));
  checker.on_sent(session, true);
  checker.on_logout_reply(*db, session, 1, 2, true);
  REQUIRE_FALSE(checker.ok());
  CHECK(checker.violation()->find("not in the store") != std::string::npos);
}

TEST_CASE_METHOD(auth_checker_fixture, "a live session refused as revoked is caught") {
  auto session = *checker.on_verify_reply(*db, identity, "t1", stored_login(random_uuid()));
  checker.on_sent(session, false);
  checker.on_session_read_reply(session, 1, failure{error_code::session_revoked, "", 0});
  REQUIRE_FALSE(checker.ok());
  CHECK(checker.violation()->find("nobody logged it out") != std::string::npos);
}

TEST_CASE("a 503 is tolerated only where the seed's faults allow it") {
  checker_rules strict;
  strict.store_unavailable_allowed = false;
  auth_checker checker{strict};
  checker.on_challenge_reply(failure{error_code::overloaded, "", 1});
  CHECK(checker.ok());
  checker.on_challenge_reply(failure{error_code::store_unavailable, "", 1});
  CHECK_FALSE(checker.ok());
}

TEST_CASE_METHOD(auth_checker_fixture, "a made-up magic link of an identity never requested costs nothing") {
  auto stranger = random_uuid();
  checker.on_unknown_verify_reply(stranger, false, failure{error_code::invalid_token, "", 0});
  checker.final_checks(*db);
  CHECK(checker.ok());
  CHECK(checker.stats().unknown_refused == 1);

  SECTION("an actor for it is caught") {
    checker.on_unknown_verify_reply(stranger, true, failure{error_code::invalid_token, "", 0});
    REQUIRE_FALSE(checker.ok());
    CHECK(checker.violation()->find("has an actor") != std::string::npos);
  }
  SECTION("a row for it is caught") {
    db->activate_identity(stranger, identity_kind::email, "stranger@sim.test", 0);
    checker.final_checks(*db);
    REQUIRE_FALSE(checker.ok());
    CHECK(checker.violation()->find("never requested") != std::string::npos);
  }
  SECTION("a login with it is caught") {
    checker.on_unknown_verify_reply(stranger, false, stored_login(random_uuid()));
    REQUIRE_FALSE(checker.ok());
    CHECK(checker.violation()->find("logged in") != std::string::npos);
  }
}
