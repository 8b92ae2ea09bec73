// tests/actors/login_gate_test.cpp: the login gate in front of the registry
// (actors/login_gate.hpp) on the deterministic scheduler: per-IP limits on
// every anonymous route, verifies for identities never requested refused
// without an actor or a row, and the sampled audit of failed logins.
#include "tests/actors/auth_fixture.hpp"

#include "actors/audit_budget.hpp"
#include "protocols/auth_tokens.hpp"

using namespace tally;
using namespace tally::test;
using namespace std::chrono_literals;

namespace {

/// A well-formed token of a random identity that was never requested.
std::string unknown_token() {
  return make_magic_token(random_uuid());
}

size_t rows_of(const sim::simulated_database& db, const std::string& email) {
  return db.identity(identity_id(identity_kind::email, email)) ? 1 : 0;
}

} // namespace

TEST_CASE_METHOD(auth_fixture, "magic links are limited per client IP, without spending the email's") {
  context.auth.magic_link_per_ip = rate_limit{3, 1min};
  context.auth.magic_link_per_email = rate_limit{1, 1min};
  start();
  const request_origin crowded{"req", "192.0.2.1"};
  for (int i = 0; i < 3; ++i) {
    auto issued = request_link(front_door, "user" + std::to_string(i) + "@example.com", crowded);
    run_jobs();
    REQUIRE(error_of(issued) == error_code::none);
  }
  auto refused = request_link(front_door, "late@example.com", crowded);
  run_jobs();
  CHECK(error_of(refused) == error_code::rate_limited);
  CHECK((*refused)->error().retry_after_s == 20);
  // Refused before anything was read or written: no actor, no row, no mail.
  CHECK(rows_of(*db, "late@example.com") == 0);
  CHECK(db->outbox().size() == 3);
  // The same email from another address: its own (1 per minute) slot is unspent.
  auto elsewhere = request_link(front_door, "late@example.com", {"req", "192.0.2.2"});
  run_jobs();
  CHECK(error_of(elsewhere) == error_code::none);
}

TEST_CASE_METHOD(auth_fixture, "a per-IP limiter that cannot answer means OVERLOADED, never fail-open") {
  start();
  for (auto& shards : limiters)
    for (auto& limiter : shards) caf::anon_send_exit(limiter, caf::exit_reason::kill);
  run_jobs();
  auto refused = request_link(front_door, email);
  run_jobs();
  CHECK(error_of(refused) == error_code::overloaded);
  CHECK(db->outbox().empty());
  CHECK(rows_of(*db, email) == 0);
}

TEST_CASE_METHOD(auth_fixture, "every anonymous route has its own per-IP limit") {
  context.auth.code_per_ip = rate_limit{2, 1min};
  context.auth.code_verify_per_ip = rate_limit{2, 1min};
  context.auth.magic_link_verify_per_ip = rate_limit{2, 1min};
  context.auth.refresh_per_ip = rate_limit{2, 1min};
  start();
  const request_origin pumping{"req", "192.0.2.9"};
  for (int i = 0; i < 2; ++i) {
    auto sent = request_code(front_door, "+491511234567" + std::to_string(i), pumping);
    run_jobs();
    REQUIRE(error_of(sent) == error_code::none);
  }
  auto third = request_code(front_door, "+4915112345679", pumping);
  run_jobs();
  CHECK(error_of(third) == error_code::rate_limited);
  CHECK(db->outbox().size() == 2);
  CHECK_FALSE(db->identity(identity_id(identity_kind::phone, "+4915112345679")));
  for (int i = 0; i < 2; ++i) {
    auto wrong = verify_code(front_door, phone, "123456", pumping);
    auto unknown = verify_link(front_door, unknown_token(), pumping);
    run_jobs();
    CHECK(error_of(wrong) == error_code::invalid_code);
    CHECK(error_of(unknown) == error_code::invalid_token);
  }
  auto wrong = verify_code(front_door, phone, "123456", pumping);
  auto unknown = verify_link(front_door, unknown_token(), pumping);
  run_jobs();
  CHECK(error_of(wrong) == error_code::rate_limited);
  CHECK(error_of(unknown) == error_code::rate_limited);
  // Codes from another address are not limited by this one.
  auto elsewhere = request_code(front_door, "+4915112345679", {"req", "192.0.2.10"});
  run_jobs();
  CHECK(error_of(elsewhere) == error_code::none);
}

TEST_CASE_METHOD(auth_fixture, "a verify for an identity never requested starts no actor and writes no row") {
  start();
  std::vector<grant_slot> refused;
  for (int i = 0; i < 50; ++i) {
    refused.push_back(verify_link(front_door, unknown_token(), {"req", "10.0.0." + std::to_string(i)}));
    refused.push_back(verify_code(front_door, "+1555000" + std::to_string(1000 + i), "123456",
                                  {"req", "10.0.1." + std::to_string(i)}));
  }
  run_jobs();
  for (size_t i = 0; i < refused.size(); ++i) {
    INFO("attempt " << i);
    CHECK(error_of(refused[i]) == (i % 2 == 0 ? error_code::invalid_token : error_code::invalid_code));
  }
  CHECK(active_identities() == 0);
  CHECK(db->identity_activations() == 0);
  CHECK_FALSE(db->identity(identity_id(identity_kind::phone, "+15550001000")));
  // No budget in this context: every failure is audited, by the gate.
  CHECK(audits("login_failed") == 100);
}

TEST_CASE_METHOD(auth_fixture, "an identity remembered as unknown logs in once it is requested") {
  start();
  auto early = verify_code(front_door, phone, "123456");
  run_jobs();
  REQUIRE(error_of(early) == error_code::invalid_code);
  auto again = verify_code(front_door, phone, "123456");  // from the negative cache
  run_jobs();
  REQUIRE(error_of(again) == error_code::invalid_code);
  CHECK(active_identities() == 0);

  auto sent = request_code(front_door, phone);
  run_jobs();
  auto code = ok_value(sent).debug_secret;
  auto granted = verify_code(front_door, phone, code);
  run_jobs();
  CHECK(ok_value(granted).user.phone == phone);
  // A known identity's link is judged by its actor, as before.
  auto token = new_link();
  auto login = verify_link(front_door, token);
  run_jobs();
  CHECK(ok_value(login).user.email == email);
}

TEST_CASE_METHOD(auth_fixture, "failed-login audit rows are rate-limited and the next one names the gap") {
  audit_budget budget{rate_limit{2, 1min}};
  context.login_failure_audits = &budget;
  start();
  for (int i = 0; i < 5; ++i) {
    auto refused = verify_link(front_door, unknown_token(), {"req-" + std::to_string(i), "10.0.0.1"});
    run_jobs();
    CHECK(error_of(refused) == error_code::invalid_token);
  }
  CHECK(audits("login_failed") == 2);
  CHECK(budget.dropped_total() == 3);
  advance(30s);  // one row per 30 s comes back
  auto later = verify_link(front_door, unknown_token(), {"req-later", "10.0.0.1"});
  run_jobs();
  CHECK(error_of(later) == error_code::invalid_token);
  REQUIRE(audits("login_failed") == 3);
  CHECK(db->audit().back().detail == "unknown_token; 3 earlier failures not audited");

  // The identity's own failures share the budget: a wrong code is still
  // counted (the back-off holds) though its audit row is dropped.
  auto code = new_code();
  auto wrong = verify_code(front_door, phone, wrong_than(code));
  run_jobs();
  CHECK(error_of(wrong) == error_code::invalid_code);
  CHECK(audits("login_failed") == 3);
  CHECK(db->login_code(identity_id(identity_kind::phone, phone))->failures == 1);
}
