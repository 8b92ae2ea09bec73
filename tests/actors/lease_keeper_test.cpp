// The lease keeper (actors/lease_keeper.cpp) on CAF's deterministic
// scheduler over an in-memory lease store: what one tick claims, what a
// renewal that lost leases stops serving, what a newcomer is handed, and
// what leaving gives back.
#include "tests/actors/actor_fixture.hpp"

#include <algorithm>

#include "actors/lease_decisions.hpp"
#include "actors/lease_keeper.hpp"
#include "actors/shard_map.hpp"

using namespace tally;
using namespace tally::test;

namespace {

/// What the keeper asked of its store, and what the store answers.
struct lease_ledger {
  std::set<int> held;
  /// Shards other nodes hold (unclaimable, routed to them).
  std::set<int> taken;
  std::vector<member_row> members;
  std::vector<int> released;
  bool left = false;
  bool reachable = true;
};

class fake_leases final : public lease_store {
public:
  explicit fake_leases(std::shared_ptr<lease_ledger> ledger) : ledger_(std::move(ledger)) {}
  lease_holder join(const node_registration& node, int) override { return {node.node_id, 1}; }
  std::vector<held_lease> claim(const std::vector<int>& shards) override {
    check();
    std::vector<held_lease> won;
    for (int shard : shards)
      if (!ledger_->taken.count(shard) && ledger_->held.insert(shard).second) won.push_back({shard, 1});
    return won;
  }
  renewal renew() override {
    check();
    renewal answer{true, {}};
    for (int shard : ledger_->held) answer.leases.push_back({shard, 1});
    return answer;
  }
  void release(const std::vector<int>& shards) override {
    check();
    for (int shard : shards) {
      ledger_->held.erase(shard);
      ledger_->released.push_back(shard);
    }
  }
  void leave() override {
    check();
    ledger_->left = true;
    ledger_->held.clear();
  }
  std::vector<shard_owner> routing_map() override {
    check();
    std::vector<shard_owner> owners;
    for (int shard : ledger_->held) owners.push_back({shard, "a", "a:1"});
    for (int shard : ledger_->taken) owners.push_back({shard, "b", "b:1"});
    return owners;
  }
  std::vector<member_row> members() override {
    check();
    return ledger_->members;
  }

private:
  void check() {
    if (!ledger_->reachable) throw store_error(store_fault::transient, "fake: unreachable");
  }
  std::shared_ptr<lease_ledger> ledger_;
};

member_row member(std::string id) {
  member_row row;
  row.view = cluster_member{id, id + ":80", member_status::alive, 0};
  return row;
}

struct keeper_fixture : actor_fixture {
  keeper_fixture() {
    ledger->members = {member("a")};
    registry = spawn_fake_registry();
    keeper = sys.spawn(lease_keeper_behavior, std::make_unique<fake_leases>(ledger), &map, registry, nullptr,
                       lease_keeper_settings{std::chrono::milliseconds(10'000)});
    spawned.push_back(caf::actor_cast<caf::actor>(keeper));
    run_jobs();  // the first tick runs at once
  }

  void tick() {
    caf::anon_send(keeper, lease_tick_atom_v);
    run_jobs();
  }

  std::shared_ptr<lease_ledger> ledger = std::make_shared<lease_ledger>();
  shard_map map{"a", "a:1"};
  registry_actor registry;
  lease_keeper_actor keeper;
};

} // namespace

TEST_CASE_METHOD(keeper_fixture, "alone, the first tick claims and serves every shard and the node is ready") {
  CHECK(ledger->held.size() == static_cast<size_t>(shard_count));
  CHECK(map.served().size() == static_cast<size_t>(shard_count));
  CHECK(map.readiness_problem().empty());
  CHECK(map.route(17).place == shard_place::local);
}

TEST_CASE_METHOD(keeper_fixture, "a renewal that no longer returns a lease stops serving it") {
  for (int shard : {5, 6}) {  // another node took them (by the store's clock)
    ledger->held.erase(shard);
    ledger->taken.insert(shard);
  }
  tick();
  CHECK_FALSE(map.serves(5));
  CHECK_FALSE(map.serves(6));
  CHECK(map.route(5).place == shard_place::remote);
  CHECK(map.route(5).node_id == "b");
  CHECK(map.serves(7));
}

TEST_CASE_METHOD(keeper_fixture, "a newcomer is handed its preferred shards a few per tick, drained first") {
  ledger->members = {member("a"), member("b")};
  tick();
  // The fake registry answers every drain at once: 8 leases released.
  REQUIRE(ledger->released.size() == lease_handoffs_per_tick_max);
  for (int shard : ledger->released) {
    CHECK(preferred_node(shard, {"a", "b"}) == "b");
    CHECK_FALSE(map.serves(shard));
  }
  tick();
  CHECK(ledger->released.size() == 2 * lease_handoffs_per_tick_max);
  // Shards a is still preferred for stay.
  for (int shard = 0; shard < shard_count; ++shard)
    if (preferred_node(shard, {"a", "b"}) == "a") CHECK(map.serves(shard));
}

TEST_CASE_METHOD(keeper_fixture, "the store unreachable: nothing renews, the node keeps its deadlines, then recovers") {
  ledger->reachable = false;
  tick();  // renewal fails: the shards stay served until their local deadline
  CHECK(map.served().size() == static_cast<size_t>(shard_count));
  ledger->reachable = true;
  tick();
  CHECK(map.served().size() == static_cast<size_t>(shard_count));
}

TEST_CASE_METHOD(keeper_fixture, "leaving gives every lease back and serves nothing") {
  bool left = false;
  auto me = keeper;
  sys.spawn([me, &left](caf::event_based_actor* self) {
    self->request(me, caf::infinite, lease_leave_atom_v).then([&left](bool recorded) { left = recorded; });
  });
  run_jobs();
  CHECK(left);
  CHECK(ledger->left);
  CHECK(map.served().empty());
}
