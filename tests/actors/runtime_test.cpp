// tests/actors/runtime_test.cpp: the runtime as app/main.cpp uses it, with
// real threads (detached writer and readers) over the simulated store. The
// test thread waits on futures fulfilled by the replies, never on sleeps.
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "actors/runtime.hpp"
#include "protocols/auth_tokens.hpp"
#include "protocols/caf_types.hpp"
#include "protocols/gateway.hpp"
#include "protocols/secrets.hpp"
#include "protocols/metrics.hpp"
#include "tests/actors/threaded_waiter.hpp"
#include "tests/sim/simulated_store.hpp"

using namespace tally;

namespace {

using test::waiter;
using system_config = test::threaded_system_config;

charge_command charge_of(int64_t amount, std::string key) {
  return charge_command{amount, "runtime test", {std::move(key), "digest"}};
}

struct runtime_fixture {
  std::shared_ptr<sim::simulated_database> db = std::make_shared<sim::simulated_database>();
  metrics process_metrics;
  system_config config;
  caf::actor_system system{config};

  /// A user with a live session in the store, as a login leaves it.
  caller new_caller(balance initial) {
    caller who{random_uuid(), random_uuid()};
    db->add_user(who.user, initial);
    session_row session;
    session.id = who.session;
    session.user_id = who.user;
    session.refresh_hash = sha256_hex(make_refresh_token(who.user, who.session));
    session.created_at = now_us();
    session.expires_at = session.created_at + 3'600'000'000LL;
    db->create_session(session, refresh_token_row{session.refresh_hash, session.id, session.user_id,
                                                  session.created_at});
    return who;
  }
};

} // namespace

TEST_CASE_METHOD(runtime_fixture, "the runtime serves concurrent charges and flushes on shutdown") {
  runtime_config settings;
  auto user = new_caller({100, 0});
  runtime actors{system, settings, sim::simulated_store_factory(db), process_metrics};
  auto& gate = actors.gate();

  std::vector<waiter<mutation_reply<charge_result>>> charges(120);
  for (size_t i = 0; i < charges.size(); ++i)
    gate.charge(user, charge_of(1, "k" + std::to_string(i)), charges[i].make());
  size_t succeeded = 0;
  size_t refused = 0;
  for (auto& charged : charges) {
    auto result = charged.get();
    if (result.ok())
      ++succeeded;
    else if (result.error().code == error_code::insufficient_credits)
      ++refused;
  }
  CHECK(succeeded == 100);
  CHECK(refused == 20);
  CHECK(db->committed_balance(user.user) == balance{0, 0});  // acked means committed

  waiter<balance> bal;
  gate.get_balance(user, bal.make());
  CHECK(bal.get().value() == balance{0, 0});
  CHECK(gate.health().reachable.load());

  CHECK(actors.shutdown(std::chrono::seconds(5)));
  waiter<balance> late;
  gate.get_balance(user, late.make());
  CHECK(late.get().error().code == error_code::shutting_down);
}

TEST_CASE_METHOD(runtime_fixture, "with ack=memory the shutdown flush commits what was acknowledged") {
  runtime_config settings;
  settings.ack = ack_mode::memory;
  auto user = random_uuid();
  db->add_user(user, {0, 0});
  runtime actors{system, settings, sim::simulated_store_factory(db), process_metrics};
  std::vector<waiter<mutation_reply<credit_result>>> credits(50);
  for (size_t i = 0; i < credits.size(); ++i)
    actors.gate().credit(user, credit_command{2, "grant", {"g" + std::to_string(i), "d"}},
                         credits[i].make());
  for (auto& granted : credits) REQUIRE(granted.get().ok());
  CHECK(actors.shutdown(std::chrono::seconds(5)));
  CHECK(db->committed_balance(user) == balance{100, 0});
  CHECK(db->ledger(user).size() == 50);
}

TEST_CASE_METHOD(runtime_fixture, "an unknown user has no live session through the gateway") {
  runtime actors{system, runtime_config{}, sim::simulated_store_factory(db), process_metrics};
  waiter<ledger_page> page;
  actors.gate().get_ledger(caller{random_uuid(), random_uuid()}, ledger_query{}, page.make());
  CHECK(page.get().error().code == error_code::session_revoked);
  waiter<mutation_reply<credit_result>> granted;
  actors.gate().credit(random_uuid(), credit_command{1, "grant", {"k", "d"}}, granted.make());
  CHECK(granted.get().error().code == error_code::user_not_found);
}

TEST_CASE_METHOD(runtime_fixture, "a login through the gateway: link, session, me, logout") {
  runtime_config settings;
  settings.auth.dev = true;
  settings.auth.code_pepper = "runtime test pepper";
  runtime actors{system, settings, sim::simulated_store_factory(db), process_metrics};
  auto& gate = actors.gate();
  const request_origin origin{"req-runtime", "127.0.0.1"};

  waiter<login_challenge> challenge;
  gate.request_magic_link("grace@example.com", origin, challenge.make());
  auto issued = challenge.get();
  REQUIRE(issued.ok());
  waiter<session_grant> granted;
  gate.verify_magic_link(issued.value().debug_secret, origin, granted.make());
  auto grant = granted.get();
  REQUIRE(grant.ok());
  caller who{grant.value().user.id, grant.value().session};

  waiter<me_view> profile;
  gate.me(who, profile.make());
  CHECK(profile.get().value().user.email == "grace@example.com");
  waiter<bool> bye;
  gate.logout(who, origin, bye.make());
  CHECK(bye.get().ok());
  waiter<balance> after;
  gate.get_balance(who, after.make());
  CHECK(after.get().error().code == error_code::session_revoked);
  CHECK(process_metrics.active_actors.Add({{"kind", "identity"}}).Value() == 1);

  // The 6th code for one phone within a minute: 429, counted per route.
  for (int i = 0; i < 6; ++i) {
    waiter<login_challenge> code;
    gate.request_code("+4915112345678", origin, code.make());
    auto answer = code.get();
    CHECK(answer.ok() == (i < 5));
  }
  CHECK(process_metrics.rate_limit_rejections.Add({{"route", "/v1/auth/code"}}).Value() == 1);
  CHECK(actors.shutdown(std::chrono::seconds(5)));
}
