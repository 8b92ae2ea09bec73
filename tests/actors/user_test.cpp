// tests/actors/user_test.cpp: the user actor alone, with a fake writer (the
// test decides when a write "commits") and a fake registry, on the
// deterministic scheduler.
#include "tests/actors/actor_fixture.hpp"

#include "protocols/codec.hpp"

using namespace tally;
using namespace tally::test;

namespace {

struct user_fixture : actor_fixture {
  user_fixture() {
    spawn_fake_writer();
    reader = spawn_reader();
    registry = spawn_fake_registry();
  }

  user_actor start(balance initial) {
    id = new_user(initial);
    return spawn_user(id, registry, reader);
  }

  void commit_up_to(const user_actor& user, uint64_t token) {
    caf::anon_send(user, committed_atom_v, token);
    run_jobs();
  }

  reader_actor reader;
  registry_actor registry;
  uuid id{};
};

} // namespace

TEST_CASE_METHOD(user_fixture, "a charge is answered only after its write commits") {
  auto user = start({100, 0});
  auto charged = charge(user, 30);
  run_jobs();

  CHECK_FALSE(charged->has_value());
  REQUIRE(seen->writes.size() == 1);
  const auto& write = seen->writes[0];
  CHECK(write.entity == id);
  CHECK(write.epoch == db->owner_epoch(id));
  REQUIRE(write.records.balances.size() == 1);
  CHECK(write.records.balances[0].bal == balance{70, 0});
  REQUIRE(write.records.ledger.size() == 1);
  CHECK(write.records.ledger[0].entry.type == ledger_type::charge);
  CHECK(write.records.ledger[0].entry.amount == 30);
  CHECK(write.records.ledger[0].entry.available_after == 70);
  CHECK(write.records.ledger[0].entry.seq == 1);
  REQUIRE(write.records.idempotency.size() == 1);
  CHECK(write.records.idempotency[0].status == charge_status_created);
  CHECK(health.backlog_records.load() == 3);

  // GET balance shows the committed state, not the speculative one.
  auto before = get_balance(user);
  run_jobs();
  CHECK(ok_value(before) == balance{100, 0});

  commit_up_to(user, write.token);
  const auto& answer = ok_value(charged);
  CHECK(answer.result.amount == 30);
  CHECK(answer.result.available == 70);
  CHECK_FALSE(answer.replayed);
  auto stored = decode_charge_result(write.records.idempotency[0].response);
  REQUIRE(stored);
  CHECK(stored->id == answer.result.id);

  auto after = get_balance(user);
  run_jobs();
  CHECK(ok_value(after) == balance{70, 0});
}

TEST_CASE_METHOD(user_fixture, "with ack=memory a charge is answered before the commit") {
  context.ack = ack_mode::memory;
  auto user = start({100, 0});
  auto charged = charge(user, 40, "k1", "d1");
  run_jobs();
  CHECK(ok_value(charged).result.available == 60);
  REQUIRE(seen->writes.size() == 1);  // still written behind

  // Before the commit a retry already replays (the client has its 2xx).
  auto retry = charge(user, 40, "k1", "d1");
  run_jobs();
  CHECK(ok_value(retry).replayed);
  CHECK(ok_value(retry).result.id == ok_value(charged).result.id);
}

TEST_CASE_METHOD(user_fixture, "insufficient credits are refused and not remembered") {
  auto user = start({5, 0});
  auto refused = charge(user, 6, "k1", "d1");
  run_jobs();
  CHECK(error_of(refused) == error_code::insufficient_credits);
  CHECK(seen->writes.empty());

  // A retry with the same key is evaluated again, not replayed.
  auto retry = charge(user, 5, "k1", "d2");
  run_jobs();
  REQUIRE(seen->writes.size() == 1);
  commit_up_to(user, seen->writes[0].token);
  CHECK(ok_value(retry).result.available == 0);
}

TEST_CASE_METHOD(user_fixture, "same key and body replays the stored result") {
  auto user = start({100, 0});
  auto first = charge(user, 10, "k1", "d1");
  run_jobs();
  commit_up_to(user, seen->writes.at(0).token);
  auto replay = charge(user, 10, "k1", "d1");
  run_jobs();

  CHECK(seen->writes.size() == 1);  // nothing new written
  const auto& replayed = ok_value(replay);
  CHECK(replayed.replayed);
  CHECK(replayed.result.id == ok_value(first).result.id);
  CHECK(replayed.result.available == 90);
}

TEST_CASE_METHOD(user_fixture, "same key with another body is IDEMPOTENCY_KEY_REUSED") {
  auto user = start({100, 0});
  charge(user, 10, "k1", "d1");
  run_jobs();
  commit_up_to(user, seen->writes.at(0).token);
  auto other = charge(user, 11, "k1", "d2");
  run_jobs();
  CHECK(error_of(other) == error_code::idempotency_key_reused);
  CHECK(seen->writes.size() == 1);
}

TEST_CASE_METHOD(user_fixture, "same key while the first is uncommitted is IDEMPOTENCY_KEY_IN_USE") {
  auto user = start({100, 0});
  auto first = charge(user, 10, "k1", "d1");
  auto second = charge(user, 10, "k1", "d1");
  run_jobs();
  CHECK(error_of(second) == error_code::idempotency_key_in_use);
  CHECK_FALSE(first->has_value());
  CHECK(seen->writes.size() == 1);
}

TEST_CASE_METHOD(user_fixture, "a full writer backlog answers OVERLOADED and changes nothing") {
  auto user = start({100, 0});
  health.backlog_records.store(health.backlog_records_max);
  auto refused = charge(user, 10);
  run_jobs();
  CHECK(error_of(refused) == error_code::overloaded);
  CHECK((*refused)->error().retry_after_s == user_retry_after_s);
  CHECK(seen->writes.empty());

  health.backlog_records.store(0);
  auto accepted = charge(user, 10);
  run_jobs();
  REQUIRE(seen->writes.size() == 1);
  commit_up_to(user, seen->writes[0].token);
  CHECK(ok_value(accepted).result.available == 90);  // the refused one left no trace
}

TEST_CASE_METHOD(user_fixture, "the per-user window of uncommitted replies is bounded") {
  context.pending_replies_max = 2;
  auto user = start({100, 0});
  auto a = charge(user, 1);
  auto b = charge(user, 1);
  auto c = charge(user, 1);
  run_jobs();
  CHECK(error_of(c) == error_code::overloaded);
  CHECK(seen->writes.size() == 2);
  commit_up_to(user, seen->writes[1].token);
  CHECK(ok_value(a).result.available == 99);
  CHECK(ok_value(b).result.available == 98);
}

TEST_CASE_METHOD(user_fixture, "one committed report releases every reply up to its token") {
  auto user = start({100, 0});
  std::vector<charge_slot> charges;
  for (int i = 0; i < 5; ++i) charges.push_back(charge(user, 1));
  run_jobs();
  REQUIRE(seen->writes.size() == 5);
  commit_up_to(user, seen->writes[2].token);
  CHECK(ok_value(charges[2]).result.available == 97);
  CHECK_FALSE(charges[3]->has_value());
  commit_up_to(user, seen->writes[4].token);
  CHECK(ok_value(charges[4]).result.available == 95);
}

TEST_CASE_METHOD(user_fixture, "a failed write fails every waiting reply and retires the user") {
  auto user = start({100, 0});
  auto a = charge(user, 10);
  auto b = charge(user, 20);
  run_jobs();
  REQUIRE(seen->writes.size() == 2);
  caf::anon_send(user, write_failed_atom_v, seen->writes[1].token);
  run_jobs();

  CHECK(error_of(a) == error_code::store_unavailable);
  CHECK(error_of(b) == error_code::store_unavailable);
  CHECK((*a)->error().retry_after_s == user_retry_after_s);
  // It asks the registry to retire it at once, with what it handled so far.
  REQUIRE_FALSE(seen->idles.empty());
  CHECK(std::get<2>(seen->idles.back()) == 2);

  // Until retired it answers 503 rather than serving from memory.
  auto later = get_balance(user);
  run_jobs();
  CHECK(error_of(later) == error_code::store_unavailable);
  CHECK(std::get<2>(seen->idles.back()) == 3);
}

TEST_CASE_METHOD(user_fixture, "an unknown user answers USER_NOT_FOUND, and has no live session") {
  auto user = spawn_user(random_uuid(), registry, reader);
  auto balance_reply = get_balance(user);
  auto charged = charge(user, 1);
  auto granted = credit(user, 1);
  run_jobs();
  // A verified access token naming a user that does not exist: its session
  // cannot be live either (401), while the admin route says 404.
  CHECK(error_of(balance_reply) == error_code::session_revoked);
  CHECK(error_of(charged) == error_code::session_revoked);
  CHECK(error_of(granted) == error_code::user_not_found);
  CHECK(seen->writes.empty());
}

TEST_CASE_METHOD(user_fixture, "activation loads balance, ledger head and recent keys") {
  id = new_user({50, 0});
  // A first incarnation commits a charge with key k1 into the store.
  {
    auto first = spawn_user(id, registry, reader);
    charge(first, 5, "k1", "d1");
    run_jobs();
    write_batch batch = seen->writes.at(0).records;
    db->commit(batch);
    caf::anon_send_exit(first, caf::exit_reason::user_shutdown);
    run_jobs();
  }
  auto user = spawn_user(id, registry, reader);
  auto bal = get_balance(user);
  auto replay = charge(user, 5, "k1", "d1");
  auto next = charge(user, 5);
  run_jobs();
  CHECK(ok_value(bal) == balance{45, 0});
  CHECK(ok_value(replay).replayed);
  REQUIRE(seen->writes.size() == 2);
  CHECK(seen->writes[1].records.ledger[0].entry.seq == 2);
  CHECK(seen->writes[1].epoch == db->owner_epoch(id));
  CHECK(seen->writes[1].epoch > seen->writes[0].epoch);
}

TEST_CASE_METHOD(user_fixture, "a key evicted from memory is looked up in the store") {
  context.idempotency_cached_max = 2;
  auto user = start({100, 0});
  for (int i = 1; i <= 3; ++i) charge(user, 1, "k" + std::to_string(i), "d");
  run_jobs();
  REQUIRE(seen->writes.size() == 3);
  for (auto& write : seen->writes) db->commit(write.records);
  commit_up_to(user, seen->writes.back().token);

  // k1 was evicted (bound 2): the store still has it, so it replays...
  auto replay = charge(user, 1, "k1", "d");
  // ...and while that lookup runs the key counts as in flight.
  auto concurrent = charge(user, 1, "k1", "d");
  run_jobs();
  CHECK(ok_value(replay).replayed);
  CHECK(error_of(concurrent) == error_code::idempotency_key_in_use);
  CHECK(seen->writes.size() == 3);

  // An unknown key after eviction is looked up, not found, and runs.
  auto fresh = charge(user, 1, "k9", "d");
  run_jobs();
  REQUIRE(seen->writes.size() == 4);
  commit_up_to(user, seen->writes.back().token);
  CHECK(ok_value(fresh).result.available == 96);
}

TEST_CASE_METHOD(user_fixture, "credits grant and debit, never below zero") {
  auto user = start({10, 0});
  auto grant = credit(user, 5);
  auto debit = credit(user, -15);
  auto too_much = credit(user, -1);
  auto zero = credit(user, 0);
  run_jobs();
  CHECK(error_of(too_much) == error_code::insufficient_credits);
  CHECK(error_of(zero) == error_code::validation_failed);
  REQUIRE(seen->writes.size() == 2);
  CHECK(seen->writes[0].records.ledger[0].entry.type == ledger_type::grant);
  CHECK(seen->writes[1].records.ledger[0].entry.type == ledger_type::debit);
  CHECK(seen->writes[1].records.ledger[0].entry.amount == 15);
  CHECK(seen->writes[1].records.idempotency[0].status == credit_status_ok);
  commit_up_to(user, seen->writes[1].token);
  CHECK(ok_value(grant).result.available == 15);
  CHECK(ok_value(debit).result.available == 0);
}

TEST_CASE_METHOD(user_fixture, "an idle user offers to be passivated, a busy one does not") {
  auto user = start({100, 0});
  auto charged = charge(user, 1);
  run_jobs();
  // Uncommitted work: it stays.
  caf::anon_send(user, idle_query_atom_v);
  run_jobs();
  CHECK(seen->idles.empty());

  commit_up_to(user, seen->writes.at(0).token);
  CHECK(ok_value(charged).result.available == 99);
  caf::anon_send(user, idle_query_atom_v);
  run_jobs();
  REQUIRE(seen->idles.size() == 1);
  CHECK(std::get<0>(seen->idles[0]) == id);
  CHECK(std::get<1>(seen->idles[0]) == 1);  // its activation number
  CHECK(std::get<2>(seen->idles[0]) == 1);  // handled one registry message
}

TEST_CASE_METHOD(user_fixture, "with no keys cached in memory every repeat is answered from the store") {
  context.idempotency_cached_max = 0;
  auto user = start({100, 0});
  auto first = charge(user, 3, "k1", "d1");
  run_jobs();
  REQUIRE(seen->writes.size() == 1);
  db->commit(seen->writes[0].records);
  commit_up_to(user, seen->writes[0].token);
  REQUIRE(error_of(first) == error_code::none);

  auto replay = charge(user, 3, "k1", "d1");
  run_jobs();
  auto reused = charge(user, 4, "k1", "d2");
  run_jobs();
  CHECK(ok_value(replay).replayed);
  CHECK(ok_value(replay).result.id == ok_value(first).result.id);
  CHECK(error_of(reused) == error_code::idempotency_key_reused);
  CHECK(seen->writes.size() == 1);

  // While one request's store lookup is in flight, the key is in use for
  // every other request, whatever its body (simulation seed 47).
  auto looking = charge(user, 3, "k1", "d1");
  auto during_same = charge(user, 3, "k1", "d1");
  auto during_other = charge(user, 4, "k1", "d2");
  run_jobs();
  CHECK(ok_value(looking).replayed);
  CHECK(error_of(during_same) == error_code::idempotency_key_in_use);
  CHECK(error_of(during_other) == error_code::idempotency_key_in_use);
  CHECK(seen->writes.size() == 1);
}
