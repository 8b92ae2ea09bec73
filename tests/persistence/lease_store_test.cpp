// The lease statements (persistence/lease_store.hpp) and fencing layer 1
// (persistence/shard_fence.hpp) on a real Postgres, when TALLY_TEST_PG_URL
// is set: claims of free or expired shards only, expiry by the database
// clock, epochs bumped by every claim, renewals that return only what is
// still held, and a deposed node's activations refused.
#include <catch2/catch.hpp>

#include <algorithm>
#include <thread>

#include <pqxx/pqxx>

#include "persistence/lease_store.hpp"
#include "persistence/postgres_store.hpp"
#include "protocols/cluster.hpp"
#include "protocols/tenants.hpp"
#include "tests/persistence/store_test_support.hpp"

using namespace tally;
using namespace tally::test;
using namespace std::chrono_literals;

namespace {

/// Short enough to wait out in a test, long enough for a claim's round trip.
constexpr auto test_ttl = 600ms;

node_registration node_named(const std::string& id) {
  return node_registration{id, "127.0.0.1:1", "127.0.0.1:2", test_ttl};
}

std::vector<int> shards_of(const std::vector<held_lease>& leases) {
  std::vector<int> shards;
  for (const auto& lease : leases) shards.push_back(lease.shard);
  std::sort(shards.begin(), shards.end());
  return shards;
}

int64_t epoch_of(const std::vector<held_lease>& leases, int shard) {
  for (const auto& lease : leases)
    if (lease.shard == shard) return lease.epoch;
  return -1;
}

/// Moves the shard's expiry into the past by the database clock, as if the
/// TTL had run out (the store alone decides expiry).
void expire_in_store(const postgres_schema& schema, int shard) {
  pqxx::connection db(schema.url);
  pqxx::nontransaction tx(db);
  tx.exec_params("UPDATE shard_leases SET expires_at = now() - interval '1 second' WHERE shard = $1", shard);
}

} // namespace

TEST_CASE("lease store: join, claim, expiry by the store's clock, renewal and release", "[store][postgres][cluster]") {
  auto server = postgres_test_url();
  if (!server) {
    WARN("TALLY_TEST_PG_URL is not set: lease store cases skipped");
    return;
  }
  postgres_schema schema(*server);
  postgres_store(schema.url).migrate();
  auto a = open_postgres_lease_store(schema.url, test_ttl);
  auto b = open_postgres_lease_store(schema.url, test_ttl);

  auto a_holder = a->join(node_named("a"), shard_count);
  CHECK(a_holder.incarnation == 1);
  auto b_holder = b->join(node_named("b"), shard_count);
  CHECK(b_holder.incarnation == 1);
  CHECK(b->routing_map().empty());  // 256 rows, none owned

  SECTION("a node with another shard count is refused") {
    auto c = open_postgres_lease_store(schema.url, test_ttl);
    CHECK_THROWS_AS(c->join(node_named("c"), shard_count * 2), shard_count_mismatch);
    // ... and nothing of it was recorded.
    for (const auto& member : a->members()) CHECK(member.view.id != "c");
  }

  SECTION("a restart under the same id is a new incarnation; the old one holds nothing") {
    auto won = a->claim({1, 2});
    REQUIRE(shards_of(won) == std::vector<int>{1, 2});
    auto restarted = open_postgres_lease_store(schema.url, test_ttl);
    CHECK(restarted->join(node_named("a"), shard_count).incarnation == 2);
    auto renewed = a->renew();
    CHECK_FALSE(renewed.member);
    CHECK(renewed.leases.empty());
    CHECK(a->claim({3}).empty());  // a superseded incarnation cannot claim either
  }

  SECTION("one claim per shard wins; expiry by the store's clock frees it; each claim bumps the epoch") {
    auto won = a->claim({10, 11, 12});
    REQUIRE(shards_of(won) == std::vector<int>{10, 11, 12});
    auto first_epoch = epoch_of(won, 10);
    CHECK(first_epoch == 1);
    CHECK(b->claim({10, 11, 12, 13}).size() == 1);  // only the free one (13)

    auto routes = b->routing_map();
    REQUIRE(routes.size() == 4);
    CHECK(routes[0].shard == 10);
    CHECK(routes[0].node_id == "a");
    CHECK(routes[0].internal_address == "127.0.0.1:2");

    expire_in_store(schema, 10);
    auto taken = b->claim({10});
    REQUIRE(shards_of(taken) == std::vector<int>{10});
    CHECK(epoch_of(taken, 10) == first_epoch + 1);

    // a's renewal returns only what it still holds: 10 is b's now.
    auto renewed = a->renew();
    CHECK(renewed.member);
    CHECK(shards_of(renewed.leases) == std::vector<int>{11, 12});
    CHECK(epoch_of(renewed.leases, 11) == 1);  // a renewal does not bump
  }

  SECTION("a lease not renewed within its TTL expires by itself and cannot be renewed") {
    REQUIRE(a->claim({20}).size() == 1);
    std::this_thread::sleep_for(test_ttl + 200ms);
    CHECK(a->renew().leases.empty());
    auto taken = b->claim({20});
    REQUIRE(taken.size() == 1);
    CHECK(taken[0].epoch == 2);
  }

  SECTION("release frees a lease at once; leave frees them all and marks the node dead") {
    REQUIRE(a->claim({30, 31, 32}).size() == 3);
    a->release({30});
    CHECK(shards_of(b->claim({30, 31})) == std::vector<int>{30});
    a->leave();
    CHECK(shards_of(b->claim({31, 32})) == std::vector<int>{31, 32});
    bool seen = false;
    for (const auto& member : b->members()) {
      if (member.view.id != "a") continue;
      seen = true;
      CHECK(member.left);
      CHECK(member.view.status == member_status::dead);
      CHECK(member.view.shards == 0);
    }
    CHECK(seen);
    CHECK(a->claim({40}).empty());  // a node that left claims nothing
  }

  SECTION("members: alive while renewing, with the shards each holds") {
    REQUIRE(a->claim({50, 51}).size() == 2);
    a->renew();
    b->renew();
    auto members = b->members();
    REQUIRE(members.size() == 2);
    CHECK(members[0].view.id == "a");
    CHECK(members[0].view.status == member_status::alive);
    CHECK(members[0].view.shards == 2);
    CHECK(members[0].view.address == "127.0.0.1:1");
    CHECK(members[1].view.shards == 0);
  }
}

TEST_CASE("fencing layer 1: a deposed node cannot activate, the new owner can", "[store][postgres][cluster]") {
  auto server = postgres_test_url();
  if (!server) {
    WARN("TALLY_TEST_PG_URL is not set: fencing cases skipped");
    return;
  }
  postgres_schema schema(*server);
  postgres_store plain(schema.url);
  plain.migrate();
  auto user = make_user();
  plain.create_user(user);
  int shard = shard_of(user.id);

  auto a_leases = open_postgres_lease_store(schema.url, test_ttl);
  auto b_leases = open_postgres_lease_store(schema.url, test_ttl);
  auto a = a_leases->join(node_named("a"), shard_count);
  auto b = b_leases->join(node_named("b"), shard_count);
  postgres_store a_store(schema.url);
  a_store.fence_activations(a);
  postgres_store b_store(schema.url);
  b_store.fence_activations(b);

  // Nobody holds the shard: nobody activates (and nothing is bumped).
  CHECK(fault_of([&] { a_store.activate_user(user.id, 10, 0); }) == store_fault::fenced);

  REQUIRE(a_leases->claim({shard}).size() == 1);
  auto a_epoch = a_store.activate_user(user.id, 10, 0)->owner_epoch;
  CHECK(fault_of([&] { b_store.activate_user(user.id, 10, 0); }) == store_fault::fenced);
  CHECK(fault_of([&] { b_store.activate_users({activation_request{user.id, 10, 0}}); }) == store_fault::fenced);

  // a is deposed (its lease expired by the store's clock; b claimed it).
  expire_in_store(schema, shard);
  REQUIRE(b_leases->claim({shard}).size() == 1);
  CHECK(fault_of([&] { a_store.activate_user(user.id, 10, 0); }) == store_fault::fenced);
  auto b_epoch = b_store.activate_user(user.id, 10, 0)->owner_epoch;
  CHECK(b_epoch == a_epoch + 1);  // the refused activation bumped nothing

  // Layer 2: a's writes at its old epoch are refused.
  write_batch batch;
  batch.balances.push_back(make_balance(user.id, a_epoch, {5, 0}, 1));
  batch.ledger.push_back(make_ledger(user.id, 1, ledger_type::grant, 5, {5, 0}));
  CHECK(fault_of([&] { a_store.commit(batch); }) == store_fault::fenced);

  // The other activations are fenced the same way.
  auto tenant = random_uuid();
  CHECK(fault_of([&] { a_store.activate_tenant(tenant); }) == store_fault::fenced);
  CHECK(fault_of([&] { a_store.find_webhook_event(tenant); }) == store_fault::fenced);
  CHECK(fault_of([&] { a_store.find_subdomain_holder("fenced-name"); }) == store_fault::fenced);
  CHECK(fault_of([&] { a_store.activate_identity(tenant, identity_kind::email, "x@example.com", t0_us); }) ==
        store_fault::fenced);
  // A single node (no fence) activates whatever the leases say.
  CHECK(plain.activate_user(user.id, 10, 0)->owner_epoch == b_epoch + 1);
}
