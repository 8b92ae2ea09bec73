// The store contract (persistence/store.hpp), run against SQLite always and
// against Postgres when TALLY_TEST_PG_URL is set. Every section starts from
// an empty database (a new SQLite file, a new Postgres schema).
#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "persistence/store.hpp"
#include "tests/persistence/store_test_support.hpp"

using namespace tally;
using namespace tally::test;

namespace {

using store_opener = std::function<std::unique_ptr<store>()>;

std::vector<int64_t> seqs_of(const ledger_page& page) {
  std::vector<int64_t> seqs;
  for (const auto& entry : page.entries) seqs.push_back(entry.seq);
  return seqs;
}

void check_store_contract(const store_opener& open) {
  auto migrated = [&] {
    auto db = open();
    db->migrate();
    return db;
  };

  SECTION("migrating again, and from a second connection, keeps the schema and the data") {
    auto db = migrated();
    auto user = make_user("a@example.com");
    db->create_user(user);
    db->migrate();
    migrated()->migrate();
    auto snapshot = db->activate_user(user.id, 10, 0);
    REQUIRE(snapshot);
    CHECK(snapshot->user.email == "a@example.com");
  }

  SECTION("starters migrating at the same time both succeed, and the schema works") {
    constexpr int starters = 3;
    std::vector<std::string> errors(starters);
    std::vector<std::thread> threads;
    for (int i = 0; i < starters; ++i) {
      threads.emplace_back([&, i] {
        try {
          open()->migrate();
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& error : errors) CHECK(error == "");
    auto db = open();
    auto user = make_user();
    db->create_user(user);
    CHECK(db->activate_user(user.id, 10, 0));
  }

  SECTION("create_user rejects a duplicate id, email or phone as permanent") {
    auto db = migrated();
    auto user = make_user("dup@example.com", "+15550001");
    db->create_user(user);
    auto same_id = make_user("other@example.com");
    same_id.id = user.id;
    CHECK(fault_of([&] { db->create_user(same_id); }) == store_fault::permanent);
    CHECK(fault_of([&] { db->create_user(make_user("dup@example.com")); }) == store_fault::permanent);
    CHECK(fault_of([&] { db->create_user(make_user("", "+15550001")); }) == store_fault::permanent);
    // Empty email and phone are NULL, and NULLs never collide.
    db->create_user(make_user());
    db->create_user(make_user());
    // The store still works after the failures.
    CHECK(db->activate_user(user.id, 1, 0));
  }

  SECTION("activate_user bumps the epoch each time and loads the user as stored") {
    auto db = migrated();
    CHECK_FALSE(db->activate_user(random_uuid(), 10, 0));
    auto user = make_user("load@example.com", "+15550002");
    db->create_user(user);

    auto first = db->activate_user(user.id, 10, 0);
    REQUIRE(first);
    CHECK(first->owner_epoch == 1);
    CHECK(first->user.id == user.id);
    CHECK(first->user.email == user.email);
    CHECK(first->user.phone == user.phone);
    CHECK(first->user.created_at == user.created_at);
    CHECK(first->bal == balance{0, 0});
    CHECK(first->ledger_seq == 0);
    CHECK(first->recent_idempotency.empty());
    CHECK_FALSE(first->older_idempotency_in_store);

    auto after = commit_grants(*db, user.id, first->owner_epoch, first->bal, 0, 3);
    auto second = db->activate_user(user.id, 10, 0);
    REQUIRE(second);
    CHECK(second->owner_epoch == 2);
    CHECK(second->bal == after);
    CHECK(second->bal.available == 30);
    CHECK(second->ledger_seq == 3);
  }

  SECTION("activate_user loads the newest idempotency records, at most the limit, since the cut-off") {
    auto db = migrated();
    auto user = make_user();
    db->create_user(user);
    auto epoch = db->activate_user(user.id, 0, 0)->owner_epoch;
    write_batch batch;
    for (int i = 0; i < 5; ++i) batch.idempotency.push_back(make_idempotency(user.id, "k" + std::to_string(i), t0_us + i));
    batch.balances.push_back(make_balance(user.id, epoch, {}, 0));
    db->commit(batch);

    auto limited = db->activate_user(user.id, 3, 0);
    REQUIRE(limited);
    REQUIRE(limited->recent_idempotency.size() == 3);
    CHECK(limited->recent_idempotency[0].key == "k4");
    CHECK(limited->recent_idempotency[1].key == "k3");
    CHECK(limited->recent_idempotency[2].key == "k2");
    CHECK(limited->older_idempotency_in_store);
    const auto& newest = limited->recent_idempotency[0];
    CHECK(newest.user_id == user.id);
    CHECK(newest.request_digest == batch.idempotency[4].request_digest);
    CHECK(newest.status == 201);
    CHECK(newest.response == batch.idempotency[4].response);
    CHECK(newest.created_at == t0_us + 4);

    auto exact = db->activate_user(user.id, 5, 0);
    CHECK(exact->recent_idempotency.size() == 5);
    CHECK_FALSE(exact->older_idempotency_in_store);

    // Records created before the cut-off are expired: neither loaded nor counted.
    auto recent_only = db->activate_user(user.id, 2, t0_us + 3);
    REQUIRE(recent_only->recent_idempotency.size() == 2);
    CHECK(recent_only->recent_idempotency[1].key == "k3");
    CHECK_FALSE(recent_only->older_idempotency_in_store);
    CHECK(recent_only->owner_epoch == epoch + 3);
  }

  SECTION("commit applies balances, ledger and idempotency records together") {
    auto db = migrated();
    auto alice = make_user();
    auto bob = make_user();
    db->create_user(alice);
    db->create_user(bob);
    auto alice_epoch = db->activate_user(alice.id, 10, 0)->owner_epoch;
    auto bob_epoch = db->activate_user(bob.id, 10, 0)->owner_epoch;

    write_batch batch;
    batch.balances.push_back(make_balance(alice.id, alice_epoch, {70, 30}, 2, t0_us + 9));
    batch.balances.push_back(make_balance(bob.id, bob_epoch, {5, 0}, 1));
    auto grant = make_ledger(alice.id, 1, ledger_type::grant, 100, {100, 0}, "reason: welcome", t0_us + 1);
    auto reserve = make_ledger(alice.id, 2, ledger_type::reserve, 30, {70, 30}, "gen-1", t0_us + 2);
    reserve.description = "a description";
    batch.ledger = {grant, reserve, make_ledger(bob.id, 1, ledger_type::topup, 5, {5, 0}, "pay_1")};
    batch.idempotency.push_back(make_idempotency(alice.id, "alice-key", t0_us + 2));
    batch.idempotency.push_back(make_idempotency(bob.id, "bob-key", t0_us + 3));
    db->commit(batch);

    // Read back through a second connection: the data is committed, not cached.
    auto other = open();
    auto page = other->read_ledger(alice.id, ledger_query{});
    REQUIRE(page.entries.size() == 2);
    CHECK_FALSE(page.next_before_seq);
    const auto& newest = page.entries[0];
    CHECK(newest.id == reserve.entry.id);
    CHECK(newest.seq == 2);
    CHECK(newest.type == ledger_type::reserve);
    CHECK(newest.amount == 30);
    CHECK(newest.available_after == 70);
    CHECK(newest.reserved_after == 30);
    CHECK(newest.reference == "gen-1");
    CHECK(newest.created_at == t0_us + 2);
    CHECK(page.entries[1].id == grant.entry.id);
    CHECK(other->read_ledger(bob.id, ledger_query{}).entries.size() == 1);

    auto alice_now = other->activate_user(alice.id, 10, 0);
    CHECK(alice_now->bal == balance{70, 30});
    CHECK(alice_now->ledger_seq == 2);
    CHECK(alice_now->recent_idempotency.size() == 1);
    CHECK(other->activate_user(bob.id, 10, 0)->bal == balance{5, 0});
    auto found = other->find_idempotency(bob.id, "bob-key", 0);
    REQUIRE(found);
    CHECK(found->response == batch.idempotency[1].response);
    CHECK_FALSE(other->find_idempotency(alice.id, "bob-key", 0));
  }

  SECTION("a fenced commit (another owner epoch) persists nothing of the batch") {
    auto db = migrated();
    auto kept = make_user();
    auto lost = make_user();
    db->create_user(kept);
    db->create_user(lost);
    auto kept_epoch = db->activate_user(kept.id, 10, 0)->owner_epoch;
    auto stale_epoch = db->activate_user(lost.id, 10, 0)->owner_epoch;
    db->activate_user(lost.id, 10, 0);  // another node took `lost` over

    write_batch batch;
    batch.balances.push_back(make_balance(kept.id, kept_epoch, {10, 0}, 1));
    batch.balances.push_back(make_balance(lost.id, stale_epoch, {10, 0}, 1));
    batch.ledger.push_back(make_ledger(kept.id, 1, ledger_type::grant, 10, {10, 0}));
    batch.ledger.push_back(make_ledger(lost.id, 1, ledger_type::grant, 10, {10, 0}));
    batch.idempotency.push_back(make_idempotency(kept.id, "k", t0_us));
    CHECK(fault_of([&] { db->commit(batch); }) == store_fault::fenced);

    CHECK(db->read_ledger(kept.id, ledger_query{}).entries.empty());
    CHECK(db->read_ledger(lost.id, ledger_query{}).entries.empty());
    CHECK_FALSE(db->find_idempotency(kept.id, "k", 0));
    auto kept_now = db->activate_user(kept.id, 10, 0);
    CHECK(kept_now->bal == balance{0, 0});
    CHECK(kept_now->ledger_seq == 0);

    // The same batch with the current epoch goes through on the same connection.
    batch.balances = {make_balance(kept.id, kept_now->owner_epoch, {10, 0}, 1)};
    batch.ledger.pop_back();
    db->commit(batch);
    CHECK(db->read_ledger(kept.id, ledger_query{}).entries.size() == 1);
  }

  SECTION("a ledger row that violates a constraint rolls back the balance update too") {
    auto db = migrated();
    auto user = make_user();
    db->create_user(user);
    auto epoch = db->activate_user(user.id, 10, 0)->owner_epoch;
    commit_grants(*db, user.id, epoch, {}, 0, 1);

    write_batch duplicate_seq;
    duplicate_seq.balances.push_back(make_balance(user.id, epoch, {999, 0}, 2));
    duplicate_seq.ledger.push_back(make_ledger(user.id, 2, ledger_type::grant, 989, {999, 0}));
    duplicate_seq.ledger.push_back(make_ledger(user.id, 1, ledger_type::grant, 1, {999, 0}));
    duplicate_seq.idempotency.push_back(make_idempotency(user.id, "k", t0_us));
    CHECK(fault_of([&] { db->commit(duplicate_seq); }) == store_fault::permanent);

    write_batch zero_amount;
    zero_amount.balances.push_back(make_balance(user.id, epoch, {999, 0}, 2));
    zero_amount.ledger.push_back(make_ledger(user.id, 2, ledger_type::grant, 0, {999, 0}));
    CHECK(fault_of([&] { db->commit(zero_amount); }) == store_fault::permanent);

    auto now = db->activate_user(user.id, 10, 0);
    CHECK(now->bal == balance{10, 0});
    CHECK(now->ledger_seq == 1);
    CHECK(seqs_of(db->read_ledger(user.id, ledger_query{})) == std::vector<int64_t>{1});
    CHECK_FALSE(db->find_idempotency(user.id, "k", 0));
  }

  SECTION("CHECK(available >= 0) rejects a negative balance as permanent") {
    auto db = migrated();
    auto user = make_user();
    db->create_user(user);
    auto epoch = db->activate_user(user.id, 10, 0)->owner_epoch;
    write_batch negative;
    negative.balances.push_back(make_balance(user.id, epoch, {-1, 0}, 1));
    negative.ledger.push_back(make_ledger(user.id, 1, ledger_type::debit, 1, {-1, 0}));
    CHECK(fault_of([&] { db->commit(negative); }) == store_fault::permanent);
    write_batch negative_reserved;
    negative_reserved.balances.push_back(make_balance(user.id, epoch, {0, -5}, 0));
    CHECK(fault_of([&] { db->commit(negative_reserved); }) == store_fault::permanent);
    auto now = db->activate_user(user.id, 10, 0);
    CHECK(now->bal == balance{0, 0});
    CHECK(db->read_ledger(user.id, ledger_query{}).entries.empty());
  }

  SECTION("read_ledger pages newest first with before_seq, and filters by type") {
    auto db = migrated();
    auto user = make_user();
    db->create_user(user);
    auto epoch = db->activate_user(user.id, 10, 0)->owner_epoch;
    // seq 1..7: grant, charge, grant, charge, grant, charge, grant
    write_batch batch;
    balance bal;
    for (int64_t seq = 1; seq <= 7; ++seq) {
      bool charge = seq % 2 == 0;
      bal.available += charge ? -1 : 10;
      batch.ledger.push_back(make_ledger(user.id, seq, charge ? ledger_type::charge : ledger_type::grant,
                                         charge ? 1 : 10, bal, "r" + std::to_string(seq)));
    }
    batch.balances.push_back(make_balance(user.id, epoch, bal, 7));
    db->commit(batch);

    ledger_query query;
    query.limit = 3;
    auto first = db->read_ledger(user.id, query);
    CHECK(seqs_of(first) == std::vector<int64_t>{7, 6, 5});
    REQUIRE(first.next_before_seq == 5);
    query.before_seq = first.next_before_seq;
    auto second = db->read_ledger(user.id, query);
    CHECK(seqs_of(second) == std::vector<int64_t>{4, 3, 2});
    REQUIRE(second.next_before_seq == 2);
    query.before_seq = second.next_before_seq;
    auto last = db->read_ledger(user.id, query);
    CHECK(seqs_of(last) == std::vector<int64_t>{1});
    CHECK_FALSE(last.next_before_seq);

    // Exactly `limit` rows left: no next page.
    query.before_seq = 4;
    auto exact = db->read_ledger(user.id, query);
    CHECK(seqs_of(exact) == std::vector<int64_t>{3, 2, 1});
    CHECK_FALSE(exact.next_before_seq);

    ledger_query charges;
    charges.limit = 2;
    charges.type = ledger_type::charge;
    auto charge_page = db->read_ledger(user.id, charges);
    CHECK(seqs_of(charge_page) == std::vector<int64_t>{6, 4});
    REQUIRE(charge_page.next_before_seq == 4);
    for (const auto& entry : charge_page.entries) CHECK(entry.type == ledger_type::charge);
    charges.before_seq = charge_page.next_before_seq;
    auto charge_rest = db->read_ledger(user.id, charges);
    CHECK(seqs_of(charge_rest) == std::vector<int64_t>{2});
    CHECK_FALSE(charge_rest.next_before_seq);

    ledger_query captures;
    captures.type = ledger_type::capture;
    CHECK(db->read_ledger(user.id, captures).entries.empty());
    CHECK(db->read_ledger(random_uuid(), ledger_query{}).entries.empty());
  }

  SECTION("awkward text and binary bytes round-trip exactly") {
    auto db = migrated();
    auto user = make_user("o'brien@example.com");
    db->create_user(user);
    auto epoch = db->activate_user(user.id, 10, 0)->owner_epoch;
    const std::string awkward = "quote\" back\\slash, {brace} 'single' NULL \xc3\xa9t\xc3\xa9 \t tab";
    std::string every_byte;
    for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
    write_batch batch;
    batch.balances.push_back(make_balance(user.id, epoch, {10, 0}, 1));
    auto entry = make_ledger(user.id, 1, ledger_type::grant, 10, {10, 0}, awkward);
    entry.description = awkward;
    batch.ledger.push_back(entry);
    batch.idempotency.push_back(make_idempotency(user.id, awkward, t0_us, every_byte));
    batch.idempotency.push_back(make_idempotency(user.id, "NULL", t0_us, ""));
    db->commit(batch);

    CHECK(db->read_ledger(user.id, ledger_query{}).entries.at(0).reference == awkward);
    auto found = db->find_idempotency(user.id, awkward, 0);
    REQUIRE(found);
    CHECK(found->key == awkward);
    CHECK(found->response == every_byte);
    auto empty = db->find_idempotency(user.id, "NULL", 0);
    REQUIRE(empty);
    CHECK(empty->response.empty());
    CHECK(db->activate_user(user.id, 10, 0)->user.email == "o'brien@example.com");
  }

  SECTION("idempotency records are found until they expire, and expiry deletes them") {
    auto db = migrated();
    auto user = make_user();
    db->create_user(user);
    auto epoch = db->activate_user(user.id, 10, 0)->owner_epoch;
    write_batch batch;
    batch.balances.push_back(make_balance(user.id, epoch, {}, 0));
    batch.idempotency.push_back(make_idempotency(user.id, "old", t0_us));
    batch.idempotency.push_back(make_idempotency(user.id, "new", t0_us + 1000));
    db->commit(batch);

    CHECK(db->find_idempotency(user.id, "old", t0_us));
    CHECK_FALSE(db->find_idempotency(user.id, "old", t0_us + 1));
    CHECK_FALSE(db->find_idempotency(user.id, "missing", 0));
    CHECK_FALSE(db->find_idempotency(random_uuid(), "new", 0));

    CHECK(db->delete_idempotency_before(t0_us) == 0);
    CHECK(db->delete_idempotency_before(t0_us + 1000) == 1);
    CHECK_FALSE(db->find_idempotency(user.id, "old", 0));
    CHECK(db->find_idempotency(user.id, "new", 0));
    CHECK(db->delete_idempotency_before(t0_us + 1001) == 1);
    CHECK_FALSE(db->find_idempotency(user.id, "new", 0));
  }

  SECTION("a hot user's batch: 1 balance write, 64 ledger rows, 64 idempotency rows; and 64 users x 1") {
    constexpr int clients = 64;
    auto db = migrated();
    auto hot = make_user();
    db->create_user(hot);
    auto epoch = db->activate_user(hot.id, 10, 0)->owner_epoch;
    write_batch batch;
    balance bal{};
    for (int i = 1; i <= clients; ++i) {
      bal.available += 3;
      batch.ledger.push_back(make_ledger(hot.id, i, ledger_type::topup, 3, bal));
      batch.idempotency.push_back(make_idempotency(hot.id, "k" + std::to_string(i), t0_us + i));
    }
    batch.balances.push_back(make_balance(hot.id, epoch, bal, clients));
    db->commit(batch);
    CHECK(db->read_ledger(hot.id, ledger_query{clients + 1, {}, {}}).entries.size() == clients);
    auto loaded = db->activate_user(hot.id, clients, 0);
    CHECK(loaded->bal.available == 3 * clients);
    CHECK(loaded->recent_idempotency.size() == clients);

    write_batch spread;
    std::vector<user_row> users;
    for (int i = 0; i < clients; ++i) {
      users.push_back(make_user());
      db->create_user(users.back());
      auto user_epoch = db->activate_user(users.back().id, 1, 0)->owner_epoch;
      spread.balances.push_back(make_balance(users.back().id, user_epoch, {1, 0}, 1));
      spread.ledger.push_back(make_ledger(users.back().id, 1, ledger_type::grant, 1, {1, 0}));
      spread.idempotency.push_back(make_idempotency(users.back().id, "k", t0_us));
    }
    db->commit(spread);
    for (const auto& user : users) CHECK(db->activate_user(user.id, 1, 0)->bal == balance{1, 0});
  }

  SECTION("batches larger than one INSERT chunk commit completely") {
    constexpr int rows = 777;  // not a power of two: several chunk sizes
    auto db = migrated();
    auto user = make_user();
    db->create_user(user);
    auto epoch = db->activate_user(user.id, 10, 0)->owner_epoch;
    write_batch batch;
    balance bal{};
    for (int i = 1; i <= rows; ++i) {
      bal.available += 1;
      batch.ledger.push_back(make_ledger(user.id, i, ledger_type::grant, 1, bal));
      batch.idempotency.push_back(make_idempotency(user.id, "k" + std::to_string(i), t0_us + i));
    }
    batch.balances.push_back(make_balance(user.id, epoch, bal, rows));
    db->commit(batch);
    auto page = db->read_ledger(user.id, ledger_query{rows, {}, {}});
    REQUIRE(page.entries.size() == rows);
    CHECK(page.entries.front().seq == rows);
    CHECK(page.entries.back().seq == 1);
    CHECK_FALSE(page.next_before_seq);
    CHECK(db->delete_idempotency_before(t0_us + rows + 1) == rows);
  }

  SECTION("an empty batch and ping succeed") {
    auto db = migrated();
    db->commit(write_batch{});
    db->ping();
  }

  check_generation_contract(open);
}

} // namespace

TEST_CASE("sqlite store keeps the store contract", "[store][sqlite]") {
  temp_dir dir;
  auto url = "sqlite:" + (dir.path / "tally.db").string();
  check_store_contract([&] { return open_store(url); });
}

TEST_CASE("postgres store keeps the store contract", "[store][postgres]") {
  auto server = postgres_test_url();
  if (!server) {
    WARN("TALLY_TEST_PG_URL is not set: Postgres store cases skipped");
    return;
  }
  postgres_schema schema(*server);
  check_store_contract([&] { return open_store(schema.url); });
}
