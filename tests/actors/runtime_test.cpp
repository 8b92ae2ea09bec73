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
#include "protocols/caf_types.hpp"
#include "protocols/gateway.hpp"
#include "protocols/metrics.hpp"
#include "tests/sim/simulated_store.hpp"

using namespace tally;

namespace {

/// Generous: only a broken runtime waits this long.
constexpr auto reply_wait_max = std::chrono::seconds(10);

struct system_config : caf::actor_system_config {
  system_config() {
    register_caf_types(*this);
    set("scheduler.max-threads", 2);
    set("logger.console", caf::atom("none"));
  }
};

template <class T>
struct waiter {
  std::shared_ptr<std::promise<outcome<T>>> promise = std::make_shared<std::promise<outcome<T>>>();
  std::future<outcome<T>> future = promise->get_future();
  reply<T> make() {
    auto p = promise;
    return reply<T>{[p](outcome<T> value) { p->set_value(std::move(value)); }};
  }
  outcome<T> get() {
    REQUIRE(future.wait_for(reply_wait_max) == std::future_status::ready);
    return future.get();
  }
};

charge_command charge_of(int64_t amount, std::string key) {
  return charge_command{amount, "runtime test", {std::move(key), "digest"}};
}

struct runtime_fixture {
  std::shared_ptr<sim::simulated_database> db = std::make_shared<sim::simulated_database>();
  metrics process_metrics;
  system_config config;
  caf::actor_system system{config};
};

} // namespace

TEST_CASE_METHOD(runtime_fixture, "the runtime serves concurrent charges and flushes on shutdown") {
  runtime_config settings;
  auto user = random_uuid();
  db->add_user(user, {100, 0});
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
  CHECK(db->committed_balance(user) == balance{0, 0});  // acked means committed

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

TEST_CASE_METHOD(runtime_fixture, "an unknown user is USER_NOT_FOUND through the gateway") {
  runtime actors{system, runtime_config{}, sim::simulated_store_factory(db), process_metrics};
  waiter<ledger_page> page;
  actors.gate().get_ledger(random_uuid(), ledger_query{}, page.make());
  CHECK(page.get().error().code == error_code::user_not_found);
}
