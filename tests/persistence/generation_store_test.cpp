// The generations part of the store contract (persistence/store.hpp),
// against SQLite always and Postgres when TALLY_TEST_PG_URL is set: rows
// written in the same batch as the balance and ledger, upserted by id,
// unique per (user, idempotency key), read by owner, listed newest first
// with status filters and a cursor, active ones found for activation and
// due ones for the sweep. Run by store_test.cpp's contract on each store.
#include <catch2/catch.hpp>

#include <functional>
#include <memory>

#include "persistence/store.hpp"
#include "tests/persistence/store_test_support.hpp"

namespace tally::test {

namespace {

generation_row make_generation(const uuid& user, timestamp_us created_at, std::string key = {}) {
  generation_row row;
  row.id = random_uuid();
  row.user_id = user;
  row.model_id = "doc-writer";
  row.price = 10;
  row.prompt = "a prompt with 'quotes' and \"double\" ones";
  row.params_json = R"({"target_pages":50})";
  row.idempotency_key = std::move(key);
  row.created_at = created_at;
  row.updated_at = created_at;
  row.timeout_at = created_at + 900'000'000;
  return row;
}

/// The create's batch: the row, its reserve, the balance.
write_batch create_batch(const generation_row& row, int64_t epoch, int64_t seq, balance after) {
  write_batch batch;
  batch.generations.push_back(row);
  batch.ledger.push_back(make_ledger(row.user_id, seq, ledger_type::reserve, row.price, after, to_string(row.id)));
  batch.balances.push_back(make_balance(row.user_id, epoch, after, seq));
  return batch;
}

void check_generations(const std::function<std::unique_ptr<store>()>& open) {
  auto db = open();
  db->migrate();
  auto user = make_user();
  db->create_user(user);
  auto epoch = db->activate_user(user.id, 0, 0)->owner_epoch;

  SECTION("a create commits with its reserve; a status change upserts the row") {
    auto row = make_generation(user.id, t0_us, "key-1");
    db->commit(create_batch(row, epoch, 1, balance{0, 10}));
    auto found = db->find_generation(user.id, row.id);
    REQUIRE(found);
    CHECK(found->prompt == row.prompt);
    CHECK(found->params_json == row.params_json);
    CHECK(found->status == generation_status::pending);
    CHECK(found->timeout_at == row.timeout_at);
    CHECK(found->idempotency_key == "key-1");
    CHECK(found->result_url.empty());
    CHECK(db->find_active_generations({user.id}).size() == 1);
    CHECK(db->activate_user(user.id, 0, 0)->bal == balance{0, 10});

    row.status = generation_status::completed;
    row.result_url = "https://r.example/1";
    row.updated_at = t0_us + 5;
    write_batch done;
    done.generations.push_back(row);
    db->commit(done);
    found = db->find_generation(user.id, row.id);
    REQUIRE(found);
    CHECK(found->status == generation_status::completed);
    CHECK(found->result_url == "https://r.example/1");
    CHECK(found->updated_at == t0_us + 5);
    CHECK(found->created_at == t0_us);
    CHECK(db->find_active_generations({user.id}).empty());
  }

  SECTION("another user's generation is not found; a key names one generation per user") {
    auto row = make_generation(user.id, t0_us, "same");
    db->commit(create_batch(row, epoch, 1, balance{0, 10}));
    CHECK(!db->find_generation(random_uuid(), row.id));
    CHECK(!db->find_generation(user.id, random_uuid()));
    write_batch twice;
    twice.generations.push_back(make_generation(user.id, t0_us + 1, "same"));
    CHECK_THROWS_AS(db->commit(twice), store_error);
    auto other = make_user();
    db->create_user(other);
    write_batch elsewhere;
    elsewhere.generations.push_back(make_generation(other.id, t0_us, "same"));
    db->commit(elsewhere);  // keys are scoped to the user
  }

  SECTION("the list is newest first, filtered by status or active, and pages with a cursor") {
    std::vector<generation_row> rows;
    write_batch batch;
    for (int i = 0; i < 5; ++i) {
      rows.push_back(make_generation(user.id, t0_us + i * 1000));
      if (i % 2 == 0) rows.back().status = generation_status::failed;
      batch.generations.push_back(rows.back());
    }
    db->commit(batch);
    generation_query query;
    query.limit = 2;
    std::vector<uuid> seen;
    for (int page_number = 0; page_number < 5; ++page_number) {
      auto page = db->read_generations(user.id, query);
      for (const auto& row : page.generations) seen.push_back(row.id);
      if (!page.next_created_at) break;
      query.before_created_at = page.next_created_at;
      query.before_id = page.next_id;
    }
    REQUIRE(seen.size() == 5);
    for (int i = 0; i < 5; ++i) CHECK(seen[static_cast<size_t>(i)] == rows[static_cast<size_t>(4 - i)].id);
    generation_query failed;
    failed.status = generation_status::failed;
    CHECK(db->read_generations(user.id, failed).generations.size() == 3);
    generation_query active;
    active.active_only = true;
    CHECK(db->read_generations(user.id, active).generations.size() == 2);
    CHECK(db->read_generations(random_uuid(), generation_query{}).generations.empty());
  }

  SECTION("the sweep finds users with active generations due, each once") {
    write_batch batch;
    batch.generations.push_back(make_generation(user.id, t0_us));
    batch.generations.push_back(make_generation(user.id, t0_us + 1));
    auto finished = make_generation(user.id, t0_us);
    finished.status = generation_status::cancelled;
    batch.generations.push_back(finished);
    db->commit(batch);
    CHECK(db->users_with_generations_due(t0_us, 10).empty());
    auto due = db->users_with_generations_due(t0_us + 900'000'001, 10);
    REQUIRE(due.size() == 1);
    CHECK(due.front() == user.id);
  }
}

} // namespace

void check_generation_contract(const std::function<std::unique_ptr<store>()>& open) { check_generations(open); }

} // namespace tally::test
