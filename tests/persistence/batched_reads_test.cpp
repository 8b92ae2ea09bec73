// The batched read forms of the store (find_idempotency_many,
// activate_users, known_identities) against SQLite always and Postgres when TALLY_TEST_PG_URL
// is set: the same answers as the single forms, in request order.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "persistence/store.hpp"
#include "tests/persistence/store_test_support.hpp"

using namespace tally;
using namespace tally::test;

namespace {

using store_opener = std::function<std::unique_ptr<store>()>;

/// A user with `keys` idempotency records k0..k{n-1} at t0_us + i.
uuid user_with_keys(store& db, int keys) {
  auto user = make_user();
  db.create_user(user);
  auto epoch = db.activate_user(user.id, 0, 0)->owner_epoch;
  write_batch batch;
  batch.balances.push_back(make_balance(user.id, epoch, {}, 0));
  for (int i = 0; i < keys; ++i)
    batch.idempotency.push_back(make_idempotency(user.id, "k" + std::to_string(i), t0_us + i,
                                                 "response " + std::to_string(i)));
  db.commit(batch);
  return user.id;
}

std::vector<std::string> keys_of(const user_snapshot& snapshot) {
  std::vector<std::string> keys;
  for (const auto& record : snapshot.recent_idempotency) keys.push_back(record.key);
  return keys;
}

void check_batched_reads(const store_opener& open) {
  auto db = open();
  db->migrate();

  SECTION("find_idempotency_many answers each probe in order, like find_idempotency") {
    auto a = user_with_keys(*db, 3);
    auto b = user_with_keys(*db, 2);
    std::vector<idempotency_probe> probes{
      {a, "k0", 0},               // found
      {b, "k0", 0},               // same key, other user: its own record
      {a, "missing", 0},          // no such key
      {a, "k1", t0_us + 2},       // created before `since`: expired
      {random_uuid(), "k0", 0},   // no such user
      {a, "k2", t0_us + 2},       // exactly at `since`: found
      {a, "k0", 0},               // the same probe twice
    };
    auto found = db->find_idempotency_many(probes);
    REQUIRE(found.size() == probes.size());
    for (size_t i = 0; i < probes.size(); ++i) {
      INFO("probe " << i);
      auto single = db->find_idempotency(probes[i].user, probes[i].key, probes[i].since);
      REQUIRE(found[i].has_value() == single.has_value());
      if (!single) continue;
      CHECK(found[i]->user_id == probes[i].user);
      CHECK(found[i]->key == probes[i].key);
      CHECK(found[i]->request_digest == single->request_digest);
      CHECK(found[i]->status == single->status);
      CHECK(found[i]->response == single->response);
      CHECK(found[i]->created_at == single->created_at);
    }
    CHECK(found[0]);
    CHECK(found[1]);
    CHECK(found[0]->response == "response 0");
    CHECK(found[1]->user_id == b);
    CHECK_FALSE(found[2]);
    CHECK_FALSE(found[3]);
    CHECK_FALSE(found[4]);
    REQUIRE(found[5]);
    CHECK(found[5]->created_at == t0_us + 2);
    CHECK(found[6]);
    CHECK(db->find_idempotency_many({}).empty());
  }

  SECTION("find_idempotency_many serves a large batch completely") {
    auto user = user_with_keys(*db, 300);
    std::vector<idempotency_probe> probes;
    for (int i = 0; i < 600; ++i) probes.push_back({user, "k" + std::to_string(i), 0});
    auto found = db->find_idempotency_many(probes);
    REQUIRE(found.size() == 600);
    CHECK(std::count_if(found.begin(), found.begin() + 300, [](const auto& f) { return f.has_value(); }) == 300);
    CHECK(std::none_of(found.begin() + 300, found.end(), [](const auto& f) { return f.has_value(); }));
    CHECK(found[299]->key == "k299");
  }

  SECTION("activate_users bumps every epoch once and loads each user as activate_user would") {
    auto a = user_with_keys(*db, 5);  // epoch 1
    auto b = user_with_keys(*db, 0);  // epoch 1
    auto c = user_with_keys(*db, 2);  // epoch 1
    auto unknown = random_uuid();
    std::vector<activation_request> requests{{a, 3, 0}, {unknown, 10, 0}, {b, 10, 0}, {c, 10, t0_us + 1}};
    auto loaded = db->activate_users(requests);
    REQUIRE(loaded.size() == 4);
    REQUIRE(loaded[0]);
    CHECK(loaded[0]->user.id == a);
    CHECK(loaded[0]->owner_epoch == 2);
    CHECK(keys_of(*loaded[0]) == std::vector<std::string>{"k4", "k3", "k2"});
    CHECK(loaded[0]->older_idempotency_in_store);
    CHECK(loaded[0]->recent_idempotency[0].response == "response 4");
    CHECK(loaded[0]->recent_idempotency[0].created_at == t0_us + 4);
    CHECK_FALSE(loaded[1]);
    REQUIRE(loaded[2]);
    CHECK(loaded[2]->user.id == b);
    CHECK(loaded[2]->owner_epoch == 2);
    CHECK(loaded[2]->recent_idempotency.empty());
    CHECK_FALSE(loaded[2]->older_idempotency_in_store);
    REQUIRE(loaded[3]);
    CHECK(keys_of(*loaded[3]) == std::vector<std::string>{"k1"});  // k0 is before the cut-off
    CHECK_FALSE(loaded[3]->older_idempotency_in_store);

    // The same as the single form (which bumps once more).
    auto single = db->activate_user(a, 3, 0);
    REQUIRE(single);
    CHECK(single->owner_epoch == 3);
    CHECK(keys_of(*single) == keys_of(*loaded[0]));
    CHECK(single->bal == loaded[0]->bal);
    CHECK(single->ledger_seq == loaded[0]->ledger_seq);
    CHECK(single->user.created_at == loaded[0]->user.created_at);
    CHECK(db->activate_users({}).empty());
  }

  SECTION("activate_users with the same user twice bumps it twice, like two activations") {
    auto a = user_with_keys(*db, 1);  // epoch 1
    auto b = user_with_keys(*db, 0);
    auto loaded = db->activate_users({{a, 10, 0}, {b, 10, 0}, {a, 10, 0}});
    REQUIRE(loaded.size() == 3);
    REQUIRE(loaded[0]);
    REQUIRE(loaded[2]);
    CHECK(loaded[0]->owner_epoch != loaded[2]->owner_epoch);
    CHECK(std::max(loaded[0]->owner_epoch, loaded[2]->owner_epoch) == 3);
    CHECK(keys_of(*loaded[2]) == std::vector<std::string>{"k0"});
    REQUIRE(loaded[1]);
    CHECK(loaded[1]->owner_epoch == 2);
  }

  SECTION("activate_users fences: a balance write of an older epoch is refused") {
    auto a = user_with_keys(*db, 0);  // epoch 1
    auto loaded = db->activate_users({{a, 10, 0}});
    REQUIRE(loaded.size() == 1);
    REQUIRE(loaded[0]);
    write_batch stale;
    stale.balances.push_back(make_balance(a, 1, {}, 0));
    CHECK(fault_of([&] { db->commit(stale); }) == store_fault::fenced);
    write_batch current;
    current.balances.push_back(make_balance(a, loaded[0]->owner_epoch, {}, 0));
    CHECK_FALSE(fault_of([&] { db->commit(current); }));
  }

  SECTION("a batch of many users activates every one of them") {
    std::vector<activation_request> requests;
    for (int i = 0; i < 300; ++i) requests.push_back({user_with_keys(*db, i % 3), 1, 0});
    auto loaded = db->activate_users(requests);
    REQUIRE(loaded.size() == 300);
    for (size_t i = 0; i < loaded.size(); ++i) {
      INFO("request " << i);
      REQUIRE(loaded[i]);
      CHECK(loaded[i]->user.id == requests[i].user);
      CHECK(loaded[i]->owner_epoch == 2);
      CHECK(loaded[i]->recent_idempotency.size() == (i % 3 == 0 ? 0u : 1u));
      CHECK(loaded[i]->older_idempotency_in_store == (i % 3 == 2));
    }
  }

  SECTION("known_identities says which identity rows exist, in order, and creates none") {
    std::vector<uuid> ids;
    for (int i = 0; i < 5; ++i) {
      ids.push_back(random_uuid());
      if (i % 2 == 0)
        db->activate_identity(ids.back(), identity_kind::email,
                              "known" + std::to_string(i) + "@example.com", t0_us);
    }
    ids.push_back(ids[0]);  // the same id twice
    for (int i = 0; i < 5000; ++i) ids.push_back(random_uuid());  // two Postgres statements
    auto known = db->known_identities(ids);
    REQUIRE(known.size() == ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      INFO("id " << i);
      CHECK(known[i] == (i < 5 ? i % 2 == 0 : i == 5));
    }
    // Asking created nothing.
    CHECK(db->known_identities({ids[1], ids[3], ids.back()}) == std::vector<bool>{false, false, false});
    CHECK(db->known_identities({}).empty());
  }
}

} // namespace

TEST_CASE("sqlite store serves batched reads", "[store][sqlite][reads]") {
  temp_dir dir;
  auto url = "sqlite:" + (dir.path / "tally.db").string();
  check_batched_reads([&] { return open_store(url); });
}

TEST_CASE("postgres store serves batched reads", "[store][postgres][reads]") {
  auto server = postgres_test_url();
  if (!server) {
    WARN("TALLY_TEST_PG_URL is not set: Postgres store cases skipped");
    return;
  }
  postgres_schema schema(*server);
  check_batched_reads([&] { return open_store(schema.url); });
}
