// tests/actors/registry_test.cpp: registry + user + real writer and reader
// over the simulated store, end to end on the deterministic scheduler.
#include "tests/actors/actor_fixture.hpp"

using namespace tally;
using namespace tally::test;

namespace {

struct registry_fixture : actor_fixture {
  registry_fixture() {
    writer = spawn_writer(settings);
    registry = spawn_registry({spawn_reader(), spawn_reader()});
  }

  double active_users() {
    return process_metrics.active_actors.Add({{"kind", "user"}}).Value();
  }

  /// Runs every actor except the writer, so writes pile up in its mailbox.
  void run_all_but_writer() {
    auto* writer_job = caf::actor_cast<caf::abstract_actor*>(writer);
    sched.run_jobs_filtered([&](caf::resumable* job) {
      return dynamic_cast<caf::abstract_actor*>(job) != writer_job;
    });
  }

  writer_settings settings;
  writer_actor writer;
  registry_actor registry;
};

} // namespace

TEST_CASE_METHOD(registry_fixture, "37 credits and 100 charges of 1: exactly 37 charges succeed") {
  context.pending_replies_max = 1024;
  auto id = new_user();
  std::vector<credit_slot> credits;
  std::vector<charge_slot> charges;
  for (int i = 0; i < 37; ++i) credits.push_back(credit(registry, id, 1));
  for (int i = 0; i < 100; ++i) charges.push_back(charge(registry, id, 1));
  run_jobs();

  for (auto& granted : credits) CHECK(error_of(granted) == error_code::none);
  size_t succeeded = 0;
  size_t refused = 0;
  for (auto& charged : charges) {
    auto code = error_of(charged);
    succeeded += code == error_code::none;
    refused += code == error_code::insufficient_credits;
  }
  CHECK(succeeded == 37);
  CHECK(refused == 63);
  CHECK(db->committed_balance(id) == balance{0, 0});
  CHECK(db->ledger(id).size() == 74);
  auto bal = get_balance(registry, id);
  run_jobs();
  CHECK(ok_value(bal) == balance{0, 0});
}

TEST_CASE_METHOD(registry_fixture, "charges of one user in one batch make one balance write") {
  auto id = new_user({100, 0});
  std::vector<charge_slot> charges;
  for (int i = 0; i < 10; ++i) charges.push_back(charge(registry, id, 1));
  run_all_but_writer();
  CHECK(db->commits() == 0);
  run_jobs();
  CHECK(db->commits() == 1);
  CHECK(db->balance_writes() == 1);
  CHECK(db->ledger_rows() == 10);
  for (auto& charged : charges) CHECK(error_of(charged) == error_code::none);
  CHECK(ok_value(charges.back()).result.available == 90);
}

TEST_CASE_METHOD(registry_fixture, "an unknown user is not kept: no live session, USER_NOT_FOUND for admins") {
  auto nobody = random_uuid();
  auto bal = get_balance(registry, nobody);
  auto charged = charge(registry, nobody, 1);
  auto granted = credit(registry, nobody, 1);
  run_jobs();
  CHECK(error_of(bal) == error_code::session_revoked);
  CHECK(error_of(charged) == error_code::session_revoked);
  CHECK(error_of(granted) == error_code::user_not_found);
  CHECK(active_users() == 0);
}

TEST_CASE_METHOD(registry_fixture, "a permanent failure fails what waits; the next command sees the store") {
  auto id = new_user({100, 0});
  db->fail_next_commits(1, store_fault::permanent);
  auto a = charge(registry, id, 10);
  auto b = charge(registry, id, 20);
  run_jobs();
  CHECK(error_of(a) == error_code::store_unavailable);
  CHECK(error_of(b) == error_code::store_unavailable);
  CHECK(db->committed_balance(id) == balance{100, 0});
  CHECK(active_users() == 0);  // retired through the handshake

  auto bal = get_balance(registry, id);
  auto c = charge(registry, id, 5);
  run_jobs();
  CHECK(ok_value(bal) == balance{100, 0});  // memory did not run ahead
  CHECK(ok_value(c).result.available == 95);
  CHECK(db->activations() == 2);
  CHECK(db->committed_balance(id) == balance{95, 0});
}

TEST_CASE_METHOD(registry_fixture, "a transient outage delays the reply but loses nothing") {
  auto id = new_user({100, 0});
  auto warm = get_balance(registry, id);
  run_jobs();
  REQUIRE(error_of(warm) == error_code::none);

  db->set_reachable(false);
  auto charged = charge(registry, id, 10);
  run_jobs();
  CHECK_FALSE(charged->has_value());
  CHECK_FALSE(health.reachable.load());
  advance(settings.retry_backoff_initial);
  CHECK_FALSE(charged->has_value());

  db->set_reachable(true);
  advance(settings.retry_backoff_initial * 2);
  CHECK(health.reachable.load());
  CHECK(ok_value(charged).result.available == 90);
  CHECK(db->committed_balance(id) == balance{90, 0});
  CHECK(health.backlog_records.load() == 0);
}

TEST_CASE_METHOD(registry_fixture, "a replay survives passivation through the store") {
  auto id = new_user({100, 0});
  auto first = charge(registry, id, 10, "k1", "d1");
  run_jobs();
  REQUIRE(error_of(first) == error_code::none);
  advance(context.passivate_after);
  REQUIRE(active_users() == 0);

  auto replay = charge(registry, id, 10, "k1", "d1");
  auto reused = charge(registry, id, 12, "k1", "d2");
  run_jobs();
  CHECK(ok_value(replay).replayed);
  CHECK(ok_value(replay).result.id == ok_value(first).result.id);
  CHECK(error_of(reused) == error_code::idempotency_key_reused);
  CHECK(db->ledger(id).size() == 1);
}

TEST_CASE_METHOD(registry_fixture, "an idle user is passivated") {
  auto id = new_user({5, 0});
  auto bal = get_balance(registry, id);
  run_jobs();
  CHECK(ok_value(bal) == balance{5, 0});
  CHECK(active_users() == 1);
  advance(context.passivate_after);
  CHECK(active_users() == 0);
  CHECK(db->activations() == 1);

  auto again = get_balance(registry, id);  // re-activates from the store
  run_jobs();
  CHECK(ok_value(again) == balance{5, 0});
  CHECK(db->activations() == 2);
}

TEST_CASE_METHOD(registry_fixture, "a message in transit prevents passivation") {
  auto id = new_user({5, 0});
  get_balance(registry, id);
  run_jobs();

  // The registry's sweep finds the user idle and queries it...
  advance_time(context.passivate_after);
  run_only(writer);  // its health ticks fired too
  REQUIRE(run_one(registry));
  REQUIRE(sched.jobs.size() == 1);
  REQUIRE(std::string(sched.next_job<caf::local_actor>().name()) == "tally.user");

  // ...a command reaches the registry and is forwarded behind the query...
  auto in_transit = get_balance(registry, id);
  run_only(registry);
  // ...then the user answers the query: idle, having handled one message
  // while the registry forwarded two.
  REQUIRE(sched.jobs.size() == 1);
  sched.run_once();
  run_jobs();

  CHECK(ok_value(in_transit) == balance{5, 0});  // delivered, not dropped
  CHECK(active_users() == 1);
  advance(context.passivate_after);  // idle again for a whole period
  CHECK(active_users() == 0);
}

TEST_CASE("the passivation sweep period follows passivate_after within bounds") {
  using namespace std::chrono;
  CHECK(passivation_sweep_interval(minutes(1)) == seconds(15));
  CHECK(passivation_sweep_interval(hours(1)) == passivation_sweep_max);
  CHECK(passivation_sweep_interval(milliseconds(1)) == passivation_sweep_min);
}

TEST_CASE_METHOD(registry_fixture, "ledger pages come from the store, newest first") {
  auto id = new_user();
  credit(registry, id, 5);
  auto charged = charge(registry, id, 2);
  run_jobs();
  auto page = get_ledger(registry, id);
  run_jobs();
  const auto& entries = ok_value(page).entries;
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].type == ledger_type::charge);
  CHECK(entries[0].reference == to_string(ok_value(charged).result.id));
  CHECK(entries[0].available_after == 3);
  CHECK(entries[1].type == ledger_type::grant);
  CHECK(entries[1].reference == "test grant");
}

TEST_CASE_METHOD(registry_fixture, "drain waits for every user, then new commands are refused") {
  auto a = new_user({10, 0});
  auto b = new_user({10, 0});
  auto charged = charge(registry, a, 1);
  get_balance(registry, b);
  auto drained = self->request(registry, caf::infinite, drain_atom_v);
  run_jobs();
  bool all = false;
  drained.receive([&](bool value) { all = value; }, [](caf::error&) { FAIL("no answer"); });
  CHECK(all);
  CHECK(error_of(charged) == error_code::none);

  auto late = charge(registry, a, 1);
  run_jobs();
  CHECK(error_of(late) == error_code::shutting_down);

  auto stopped = self->request(registry, caf::infinite, stop_atom_v);
  run_jobs();
  stopped.receive([](bool) {}, [](caf::error&) { FAIL("no answer"); });
  CHECK(active_users() == 0);
}
