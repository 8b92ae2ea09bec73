// tests/persistence/reader_test.cpp: the reader's group reads over the simulated
// store, on the deterministic scheduler. Requests that arrive while the
// reader is busy are served by one store call; each requester still gets
// its own answer, and a failed batch fails every requester in it.
#include "tests/actors/actor_fixture.hpp"

using namespace tally;
using namespace tally::test;

namespace {

/// A requester's answer once delivered: the value, or the error code.
template <class T>
struct answer {
  bool delivered = false;
  std::optional<T> value;
  error_code error = error_code::none;
};

template <class T>
using answer_slot = std::shared_ptr<answer<T>>;

struct reader_fixture : actor_fixture {
  reader_fixture() { reader = spawn_reader(); }

  /// A one-shot requester: asks the reader once and records the answer.
  template <class T, class... Ts>
  answer_slot<T> ask(Ts... xs) {
    auto slot = std::make_shared<answer<T>>();
    auto target = reader;
    sys.spawn([=](caf::event_based_actor* client) {
      client->request(target, caf::infinite, xs...)
        .then(
          [slot](T& value) {
            slot->delivered = true;
            slot->value = std::move(value);
          },
          [slot](caf::error& err) {
            slot->delivered = true;
            slot->error = to_error_code(err, error_code::internal);
          });
    });
    return slot;
  }

  answer_slot<idempotency_lookup> lookup(const uuid& user, const std::string& key) {
    return ask<idempotency_lookup>(lookup_atom_v, user, key, timestamp_us{0});
  }

  answer_slot<user_snapshot> load(const uuid& user) {
    return ask<user_snapshot>(load_atom_v, user, uint64_t{10}, timestamp_us{0});
  }

  /// A user with one stored idempotency key named `key`.
  uuid user_with_key(const std::string& key) {
    auto user = new_user();
    auto epoch = db->activate_user(user, 0, 0)->owner_epoch;
    write_batch batch;
    batch.balances.push_back(balance_write{user, epoch, {}, 0, 1});
    batch.idempotency.push_back(idempotency_record{user, key, "digest-" + key, 201, "response-" + key, 1});
    db->commit(batch);
    return user;
  }

  reader_actor reader;
};

} // namespace

TEST_CASE_METHOD(reader_fixture, "queued idempotency lookups are served by one store call, each to its requester",
                 "[reader]") {
  auto a = user_with_key("ka");
  auto b = user_with_key("kb");
  auto calls = db->lookup_calls();
  auto found_a = lookup(a, "ka");
  auto found_b = lookup(b, "kb");
  auto wrong_user = lookup(a, "kb");
  auto missing = lookup(b, "nothing");
  run_jobs();

  CHECK(db->lookup_calls() == calls + 1);
  CHECK(db->lookup_probes() == 4);
  for (const auto& slot : {found_a, found_b, wrong_user, missing}) {
    REQUIRE(slot->delivered);
    CHECK(slot->error == error_code::none);
    REQUIRE(slot->value);
  }
  REQUIRE(found_a->value->record);
  CHECK(found_a->value->record->user_id == a);
  CHECK(found_a->value->record->response == "response-ka");
  REQUIRE(found_b->value->record);
  CHECK(found_b->value->record->user_id == b);
  CHECK(found_b->value->record->request_digest == "digest-kb");
  CHECK_FALSE(wrong_user->value->record);
  CHECK_FALSE(missing->value->record);

  // The reader is idle again: a later lookup is one more call of its own.
  auto later = lookup(a, "ka");
  run_jobs();
  CHECK(db->lookup_calls() == calls + 2);
  REQUIRE(later->value);
  CHECK(later->value->record);
}

TEST_CASE_METHOD(reader_fixture, "queued activations share one store transaction, each to its requester",
                 "[reader]") {
  auto a = new_user({100, 0});
  auto b = new_user({7, 0});
  auto unknown = random_uuid();
  auto calls = db->activation_calls();
  auto activations = db->activations();
  auto load_a = load(a);
  auto load_unknown = load(unknown);
  auto load_b = load(b);
  run_jobs();

  CHECK(db->activation_calls() == calls + 1);
  CHECK(db->activations() == activations + 2);
  REQUIRE(load_a->value);
  CHECK(load_a->value->user.id == a);
  CHECK(load_a->value->bal.available == 100);
  CHECK(load_a->value->owner_epoch == db->owner_epoch(a));
  REQUIRE(load_b->value);
  CHECK(load_b->value->user.id == b);
  CHECK(load_b->value->bal.available == 7);
  REQUIRE(load_unknown->delivered);
  CHECK(load_unknown->error == error_code::user_not_found);
}

TEST_CASE_METHOD(reader_fixture, "a batch that fails transiently twice answers every requester store_unavailable",
                 "[reader]") {
  auto a = user_with_key("ka");
  auto b = user_with_key("kb");
  auto calls = db->lookup_calls();
  db->fail_next_reads(2, store_fault::transient);
  auto first = lookup(a, "ka");
  auto second = lookup(b, "kb");
  run_jobs();

  CHECK(db->lookup_calls() == calls + 2);  // the batch and its one retry
  for (const auto& slot : {first, second}) {
    REQUIRE(slot->delivered);
    CHECK(slot->error == error_code::store_unavailable);
  }
  CHECK_FALSE(health.reachable.load());

  // The next batch finds the store again.
  auto again = lookup(a, "ka");
  run_jobs();
  REQUIRE(again->value);
  CHECK(again->value->record);
  CHECK(health.reachable.load());
}

TEST_CASE_METHOD(reader_fixture, "a batch that fails transiently once is retried and answers everyone",
                 "[reader]") {
  auto a = new_user();
  auto b = new_user();
  auto calls = db->activation_calls();
  db->fail_next_reads(1, store_fault::transient);
  auto load_a = load(a);
  auto load_b = load(b);
  run_jobs();

  CHECK(db->activation_calls() == calls + 2);
  REQUIRE(load_a->value);
  REQUIRE(load_b->value);
  CHECK(load_a->value->owner_epoch == 1);  // the failed attempt bumped nothing
  CHECK(load_b->value->owner_epoch == 1);
}

TEST_CASE_METHOD(reader_fixture, "a batch that fails for good is split, so one bad user fails only its requester",
                 "[reader]") {
  auto good = user_with_key("kg");
  auto bad = user_with_key("kb");
  auto other = new_user();
  db->fail_reads_touching(bad, store_fault::permanent);
  auto good_lookup = lookup(good, "kg");
  auto bad_lookup = lookup(bad, "kb");
  auto good_load = load(other);
  auto bad_load = load(bad);
  run_jobs();

  REQUIRE(good_lookup->value);
  CHECK(good_lookup->value->record);
  REQUIRE(bad_lookup->delivered);
  CHECK(bad_lookup->error == error_code::store_unavailable);
  REQUIRE(good_load->value);
  CHECK(good_load->value->user.id == other);
  REQUIRE(bad_load->delivered);
  CHECK(bad_load->error == error_code::store_unavailable);
}

TEST_CASE_METHOD(reader_fixture, "a batch that fails for good is halved, not read one request at a time",
                 "[reader]") {
  constexpr int requests = 16;
  std::vector<uuid> users;
  for (int i = 0; i < requests; ++i) users.push_back(user_with_key("k" + std::to_string(i)));
  db->fail_reads_touching(users[11], store_fault::permanent);
  auto calls = db->lookup_calls();
  std::vector<answer_slot<idempotency_lookup>> answers;
  for (int i = 0; i < requests; ++i) answers.push_back(lookup(users[i], "k" + std::to_string(i)));
  run_jobs();

  for (int i = 0; i < requests; ++i) {
    INFO("request " << i);
    REQUIRE(answers[i]->delivered);
    if (i == 11) {
      CHECK(answers[i]->error == error_code::store_unavailable);
    } else {
      REQUIRE(answers[i]->value);
      CHECK(answers[i]->value->record);
    }
  }
  // The whole batch, then both halves on each of log2(16) = 4 levels.
  CHECK(db->lookup_calls() - calls == 1 + 2 * 4);
}

TEST_CASE_METHOD(reader_fixture, "while the store is unreachable every queued request gets store_unavailable",
                 "[reader]") {
  auto a = user_with_key("ka");
  db->set_reachable(false);
  auto first = lookup(a, "ka");
  auto second = load(a);
  run_jobs();
  REQUIRE(first->delivered);
  CHECK(first->error == error_code::store_unavailable);
  REQUIRE(second->delivered);
  CHECK(second->error == error_code::store_unavailable);
}

TEST_CASE_METHOD(reader_fixture, "a full queue answers overloaded at once", "[reader]") {
  auto a = user_with_key("ka");
  // Anonymous requests fill the queue (their answers go nowhere); a request
  // sent right behind them, before the reader runs, finds it full.
  for (size_t i = 0; i < reader_queue_max; ++i)
    caf::anon_send(reader, lookup_atom_v, a, std::string("ka"), timestamp_us{0});
  auto pending = self->request(reader, caf::infinite, lookup_atom_v, a, std::string("ka"), timestamp_us{0});
  run_jobs();
  auto refused = error_code::none;
  pending.receive([&](idempotency_lookup&) { FAIL("a request beyond the queue bound was accepted"); },
                  [&](caf::error& err) { refused = to_error_code(err, error_code::internal); });
  CHECK(refused == error_code::overloaded);
  // Batches are bounded: the queue drained in reader_lookup_batch_max steps.
  CHECK(db->lookup_probes() == reader_queue_max);
  CHECK(db->lookup_calls() == (reader_queue_max + reader_lookup_batch_max - 1) / reader_lookup_batch_max);

  auto accepted = lookup(a, "ka");
  run_jobs();
  REQUIRE(accepted->value);
  CHECK(accepted->value->record);
}
