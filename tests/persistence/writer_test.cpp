// tests/persistence/writer_test.cpp: the write queue (plain class) and the writer
// actor over the simulated store, on the deterministic scheduler.
#include "tests/actors/actor_fixture.hpp"

#include "persistence/write_queue.hpp"
#include "tests/persistence/listener_log.hpp"

using namespace tally;
using namespace tally::test;

namespace {

/// One accepted command's records: balance, ledger entry, idempotency key.
entity_write make_write(const uuid& user, int64_t epoch, uint64_t token, int64_t available,
                        write_listener listener = {}) {
  entity_write write;
  write.entity = user;
  write.epoch = epoch;
  write.token = token;
  write.listener = std::move(listener);
  auto seq = static_cast<int64_t>(token);
  ledger_entry entry;
  entry.id = random_uuid();
  entry.seq = seq;
  entry.type = ledger_type::grant;
  entry.amount = 1;
  entry.available_after = available;
  write.records.ledger.push_back({user, entry, ""});
  write.records.balances.push_back({user, epoch, balance{available, 0}, seq, now_us()});
  write.records.idempotency.push_back(
    {user, "key-" + std::to_string(token), "digest", 200, "response", now_us()});
  return write;
}

struct writer_fixture : actor_fixture {
  /// Spawns the writer and a listener for one user whose store epoch is 0.
  void start(writer_settings settings = {}) {
    writer = spawn_writer(settings);
    user = new_user();
    listener = sys.spawn(fake_listener, log);
    spawned.push_back(caf::actor_cast<caf::actor>(listener));
    run_jobs();
  }

  /// Hands a write to the writer the way a user actor does (backlog first).
  void send_write(entity_write write) {
    health.backlog_records += static_cast<int64_t>(write.records.record_count());
    caf::anon_send(writer, write_atom_v, std::move(write));
  }

  writer_actor writer;
  write_listener listener;
  std::shared_ptr<listener_log> log = std::make_shared<listener_log>();
  uuid user{};
};

} // namespace

// -- write_queue ------------------------------------------------------------------

TEST_CASE("the write queue coalesces balances to one per entity and keeps order") {
  write_queue queue{1000};
  auto a = random_uuid();
  auto b = random_uuid();
  for (uint64_t token = 1; token <= 5; ++token) {
    REQUIRE(queue.push(make_write(a, 1, token, 100 - static_cast<int64_t>(token))));
    REQUIRE(queue.push(make_write(b, 3, token, static_cast<int64_t>(token))));
  }
  auto prepared = queue.take_batch();
  CHECK(queue.empty());
  CHECK(prepared.records_received == 30);
  REQUIRE(prepared.batch.balances.size() == 2);
  CHECK(prepared.batch.balances[0].user_id == a);
  CHECK(prepared.batch.balances[0].bal.available == 95);  // the last one wins
  CHECK(prepared.batch.balances[1].bal.available == 5);
  REQUIRE(prepared.batch.ledger.size() == 10);
  int64_t last_seq_a = 0;
  for (const auto& row : prepared.batch.ledger) {
    if (row.user_id != a) continue;
    CHECK(row.entry.seq == last_seq_a + 1);  // entity order kept
    last_seq_a = row.entry.seq;
  }
  CHECK(prepared.batch.idempotency.size() == 10);
  REQUIRE(prepared.members.size() == 2);
  CHECK(prepared.members[0].max_token == 5);
  CHECK(prepared.members[1].max_token == 5);
}

TEST_CASE("the write queue caps a batch without splitting a write") {
  write_queue queue{7};  // each write holds 3 records
  auto a = random_uuid();
  for (uint64_t token = 1; token <= 5; ++token) queue.push(make_write(a, 1, token, 1));
  auto first = queue.take_batch();
  CHECK(first.records_received == 6);
  CHECK(first.members.at(0).max_token == 2);
  CHECK(queue.queued_records() == 9);
  auto second = queue.take_batch();
  CHECK(second.members.at(0).max_token == 4);
  auto third = queue.take_batch();
  CHECK(third.members.at(0).max_token == 5);
  CHECK(queue.empty());

  write_queue tiny{1};  // a single write larger than the cap still goes
  tiny.push(make_write(a, 1, 1, 1));
  CHECK(tiny.take_batch().records_received == 3);
}

TEST_CASE("a fenced epoch loses its queued writes and cannot queue more") {
  write_queue queue{1000};
  auto a = random_uuid();
  auto b = random_uuid();
  queue.push(make_write(a, 1, 1, 1));
  queue.push(make_write(b, 1, 1, 1));
  queue.push(make_write(a, 1, 2, 1));
  auto dropped = queue.fence(batch_member{a, 1, {}, 0});
  REQUIRE(dropped.size() == 2);
  CHECK(queue.queued_records() == 3);
  CHECK_FALSE(queue.push(make_write(a, 1, 3, 1)));
  CHECK(queue.push(make_write(a, 2, 1, 1)));  // a new activation writes again
  auto prepared = queue.take_batch();
  CHECK(prepared.members.size() == 2);
}

// -- writer actor -------------------------------------------------------------------

TEST_CASE_METHOD(writer_fixture, "writes that arrive together commit as one batch") {
  start();
  for (uint64_t token = 1; token <= 10; ++token)
    send_write(make_write(user, 0, token, 100 + static_cast<int64_t>(token), listener));
  run_jobs();

  CHECK(db->commits() == 1);
  CHECK(db->balance_writes() == 1);  // ten balance writes coalesced
  CHECK(db->ledger_rows() == 10);
  CHECK(db->committed_balance(user)->available == 110);
  CHECK(db->ledger_seq(user) == 10);
  REQUIRE(log->committed.size() == 1);
  CHECK(log->committed[0] == 10);
  CHECK(health.backlog_records.load() == 0);
  CHECK(process_metrics.backlog_records.Value() == 0);
}

TEST_CASE_METHOD(writer_fixture, "the next batch is what arrived while the previous commit ran") {
  start();
  send_write(make_write(user, 0, 1, 1, listener));
  run_one(writer);  // takes the write, queues a flush
  send_write(make_write(user, 0, 2, 2, listener));
  run_one(writer);  // flush: commits write 1 alone; write 2 was behind it
  CHECK(db->batch_sizes() == std::vector<size_t>{3});
  send_write(make_write(user, 0, 3, 3, listener));
  run_jobs();
  CHECK(db->batch_sizes() == std::vector<size_t>{3, 5});  // 2 ledger + 2 keys + 1 balance
  CHECK(log->committed == std::vector<uint64_t>{1, 3});
}

TEST_CASE_METHOD(writer_fixture, "a transient failure is retried after a back-off and loses nothing") {
  writer_settings settings;
  start(settings);
  db->set_reachable(false);
  send_write(make_write(user, 0, 1, 7, listener));
  run_jobs();
  CHECK(log->committed.empty());
  CHECK_FALSE(health.reachable.load());
  CHECK(health.backlog_records.load() == 3);

  // Writes keep accumulating behind the failed batch.
  send_write(make_write(user, 0, 2, 8, listener));
  run_jobs();
  advance(settings.retry_backoff_initial);  // retry 1 fails: back-off doubles
  CHECK(log->committed.empty());
  CHECK(process_metrics.store_errors.Add({{"kind", "transient"}}).Value() == 2);

  db->set_reachable(true);
  advance(settings.retry_backoff_initial * 2);
  CHECK(health.reachable.load());
  CHECK(log->committed == std::vector<uint64_t>{1, 2});
  CHECK(db->committed_balance(user)->available == 8);
  CHECK(db->ledger_seq(user) == 2);
  CHECK(health.backlog_records.load() == 0);
  CHECK(process_metrics.store_errors.Add({{"kind", "transient"}}).Value() == 2);
}

TEST_CASE_METHOD(writer_fixture, "a permanent failure drops the batch and fences the epoch") {
  start();
  auto other = new_user();
  auto other_log = std::make_shared<listener_log>();
  auto other_listener = sys.spawn(fake_listener, other_log);
  spawned.push_back(caf::actor_cast<caf::actor>(other_listener));
  db->fail_next_commits(1, store_fault::permanent);
  send_write(make_write(user, 0, 1, 1, listener));
  run_one(writer);  // write 1 queued, flush queued behind
  send_write(make_write(user, 0, 2, 2, listener));  // arrives after the flush
  run_jobs();

  CHECK(log->failed == std::vector<uint64_t>{1, 2});  // batch, then the fenced follower
  CHECK(log->committed.empty());
  CHECK(db->ledger_seq(user) == 0);
  CHECK(health.backlog_records.load() == 0);

  // Another entity is unaffected; the fenced epoch stays refused.
  send_write(make_write(other, 0, 1, 5, other_listener));
  send_write(make_write(user, 0, 3, 3, listener));
  run_jobs();
  CHECK(other_log->committed == std::vector<uint64_t>{1});
  CHECK(log->failed == std::vector<uint64_t>{1, 2, 3});
}

TEST_CASE_METHOD(writer_fixture, "a fenced commit fails its entities with write_failed") {
  start();
  db->bump_epoch(user);  // another owner activated the user
  send_write(make_write(user, 0, 1, 1, listener));
  run_jobs();
  CHECK(log->failed == std::vector<uint64_t>{1});
  CHECK(process_metrics.store_errors.Add({{"kind", "fenced"}}).Value() == 1);
}

TEST_CASE_METHOD(writer_fixture, "transient failures give up after commit_attempts_max while the store answers") {
  writer_settings settings;
  settings.commit_attempts_max = 2;
  start(settings);
  db->fail_next_commits(100, store_fault::transient);  // e.g. a lock that never clears
  send_write(make_write(user, 0, 1, 1, listener));
  run_jobs();
  advance(settings.retry_backoff_initial);
  CHECK(log->failed.empty());
  advance(settings.retry_backoff_initial * 2);
  CHECK(log->failed == std::vector<uint64_t>{1});
  CHECK(db->commit_calls() == 3);
  CHECK(health.reachable.load());  // it answered pings throughout
}

TEST_CASE_METHOD(writer_fixture, "commits that keep failing while pings answer mark the store as failing, until one commits") {
  writer_settings settings;
  start(settings);
  db->fail_next_commits(1, store_fault::transient);  // e.g. a locked SQLite file
  send_write(make_write(user, 0, 1, 1, listener));
  run_jobs();
  CHECK(health.reachable.load());  // pings answer
  CHECK(health.commits_failing.load());
  advance(settings.retry_backoff_initial);
  CHECK(log->committed == std::vector<uint64_t>{1});
  CHECK_FALSE(health.commits_failing.load());
}

TEST_CASE_METHOD(writer_fixture, "a refused row is its entity's problem, not the store's") {
  start();
  db->fail_next_commits(1, store_fault::permanent);
  send_write(make_write(user, 0, 1, 1, listener));
  run_jobs();
  CHECK(log->failed == std::vector<uint64_t>{1});
  CHECK_FALSE(health.commits_failing.load());
}

TEST_CASE_METHOD(writer_fixture, "the health tick pings an unreachable store back to reachable") {
  writer_settings settings;
  start(settings);
  health.reachable.store(false);  // as a reader would have set it
  advance(settings.health_check_interval);
  CHECK(health.reachable.load());
}

TEST_CASE_METHOD(writer_fixture, "expired idempotency keys are swept periodically") {
  writer_settings settings;
  settings.idempotency_sweep_interval = std::chrono::seconds(5);
  settings.idempotency_retention = std::chrono::hours(1);
  start(settings);
  auto old_write = make_write(user, 0, 1, 1, listener);
  old_write.records.idempotency[0].created_at = now_us() - std::chrono::microseconds(std::chrono::hours(2)).count();
  send_write(std::move(old_write));
  send_write(make_write(user, 0, 2, 2, listener));
  run_jobs();
  CHECK(db->idempotency_count() == 2);
  for (int i = 0; i < 5; ++i) advance(settings.health_check_interval);
  CHECK(db->sweeps() == 1);
  CHECK(db->idempotency_count() == 1);
}

TEST_CASE_METHOD(writer_fixture, "flush_and_stop commits what is pending, then answers") {
  start();
  db->set_reachable(false);
  send_write(make_write(user, 0, 1, 4, listener));
  run_jobs();
  db->set_reachable(true);
  auto answer = self->request(writer, caf::infinite, flush_and_stop_atom_v, int64_t{10'000});
  advance(std::chrono::milliseconds(50));  // the pending retry
  bool flushed = false;
  answer.receive([&](bool all) { flushed = all; }, [](caf::error&) { FAIL("no answer"); });
  CHECK(flushed);
  CHECK(log->committed == std::vector<uint64_t>{1});
}

TEST_CASE_METHOD(writer_fixture, "flush_and_stop answers false when the deadline passes") {
  start();
  db->set_reachable(false);
  send_write(make_write(user, 0, 1, 4, listener));
  run_jobs();
  auto answer = self->request(writer, caf::infinite, flush_and_stop_atom_v, int64_t{1'000});
  run_jobs();
  for (int i = 0; i < 11; ++i) advance(std::chrono::milliseconds(100));
  bool flushed = true;
  answer.receive([&](bool all) { flushed = all; }, [](caf::error&) { FAIL("no answer"); });
  CHECK_FALSE(flushed);
  CHECK(log->committed.empty());
}
