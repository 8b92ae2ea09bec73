// The lease keeper's decisions (actors/lease_decisions.hpp) and the shard
// map's serving rule (actors/shard_map.hpp), without actors or a store.
#include <catch2/catch.hpp>

#include <map>
#include <set>

#include "actors/lease_decisions.hpp"
#include "actors/shard_map.hpp"

using namespace tally;
using namespace std::chrono_literals;

namespace {

std::map<std::string, int> share_of(const std::vector<std::string>& live) {
  std::map<std::string, int> share;
  for (int shard = 0; shard < shard_count; ++shard) ++share[preferred_node(shard, live)];
  return share;
}

lease_view empty_view(std::string self, std::vector<std::string> live) {
  lease_view view;
  view.self = std::move(self);
  view.live = std::move(live);
  return view;
}

} // namespace

TEST_CASE("rendezvous: every node computes the same owner, and the shares are fair") {
  std::vector<std::string> live{"127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"};
  std::vector<std::string> reordered{live[2], live[0], live[1]};
  for (int shard = 0; shard < shard_count; ++shard)
    REQUIRE(preferred_node(shard, live) == preferred_node(shard, reordered));
  auto share = share_of(live);
  REQUIRE(share.size() == 3);
  for (const auto& [node, shards] : share) {
    INFO(node);
    CHECK(shards > 50);  // 85 expected; a skewed hash would starve a node
    CHECK(shards < 120);
  }
  CHECK(preferred_node(7, {}).empty());
  CHECK(rendezvous_weight("a", 1) == rendezvous_weight("a", 1));
  CHECK(rendezvous_weight("a", 1) != rendezvous_weight("a", 2));
}

TEST_CASE("rendezvous: a node that joins takes shards only from others to itself") {
  std::vector<std::string> three{"a", "b", "c"};
  std::vector<std::string> four{"a", "b", "c", "d"};
  int moved = 0;
  for (int shard = 0; shard < shard_count; ++shard) {
    auto before = preferred_node(shard, three);
    auto after = preferred_node(shard, four);
    if (before != after) {
      CHECK(after == "d");  // never between two old members
      ++moved;
    }
  }
  CHECK(moved > 30);   // about a quarter of the shards move to the newcomer
  CHECK(moved < 100);
}

TEST_CASE("a lease is served locally until before the store could expire it") {
  auto sent = std::chrono::steady_clock::time_point{} + 100s;
  CHECK(lease_deadline(sent, 10s) == sent + 9s);
  CHECK(lease_deadline(sent, 3000ms) == sent + 2700ms);
  CHECK(lease_deadline(sent, 200ms) == sent + 150ms);  // the margin's floor
  CHECK(lease_deadline(sent, 10s) < sent + 10s);
}

TEST_CASE("a tick claims the free shards this node is preferred for, and orphans") {
  std::vector<std::string> live{"a", "b"};
  auto view = empty_view("a", live);
  auto plan = plan_leases(view);
  std::set<int> claims(plan.claims.begin(), plan.claims.end());
  for (int shard = 0; shard < shard_count; ++shard)
    CHECK(claims.count(shard) == (preferred_node(shard, live) == "a" ? 1u : 0u));
  CHECK(plan.handoffs.empty());

  // b's free shard left unclaimed longer than a TTL: anyone takes it.
  int of_b = 0;
  while (preferred_node(of_b, live) != "b") ++of_b;
  view.orphaned[static_cast<size_t>(of_b)] = true;
  plan = plan_leases(view);
  CHECK(std::count(plan.claims.begin(), plan.claims.end(), of_b) == 1);

  // Owned shards are never claimed, whoever owns them.
  for (auto& owner : view.owner) owner = "b";
  CHECK(plan_leases(view).claims.empty());
}

TEST_CASE("a tick hands over, a few at a time, the served shards a newcomer is preferred for") {
  auto view = empty_view("a", {"a", "b"});
  for (int shard = 0; shard < shard_count; ++shard) {
    view.owner[static_cast<size_t>(shard)] = "a";
    view.serving[static_cast<size_t>(shard)] = true;
  }
  auto plan = plan_leases(view, 8);
  REQUIRE(plan.handoffs.size() == 8);
  for (int shard : plan.handoffs) CHECK(preferred_node(shard, {"a", "b"}) == "b");
  CHECK(plan.claims.empty());

  // Shards already in hand-off (not served) are not handed over twice.
  for (int shard : plan.handoffs) view.serving[static_cast<size_t>(shard)] = false;
  auto next = plan_leases(view, 8);
  for (int shard : next.handoffs) CHECK(std::count(plan.handoffs.begin(), plan.handoffs.end(), shard) == 0);

  // Alone, a node keeps everything.
  view.live = {"a"};
  CHECK(plan_leases(view).handoffs.empty());
}

namespace {

std::chrono::steady_clock::time_point fake_now{};
std::chrono::steady_clock::time_point read_fake_now() {
  return fake_now;
}

} // namespace

TEST_CASE("the shard map serves a shard only before its deadline, and nothing once closed") {
  fake_now = std::chrono::steady_clock::time_point{} + 1000s;
  shard_map map("a", "127.0.0.1:9081", &read_fake_now);
  CHECK(map.readiness_problem() == "joining");
  CHECK_FALSE(map.serves(3));
  CHECK(map.route(3).place == shard_place::unavailable);

  map.serve_until(3, fake_now + 2s);
  map.renewed_membership(fake_now + 2s);
  CHECK(map.serves(3));
  CHECK(map.readiness_problem().empty());
  CHECK(map.route(3).place == shard_place::local);
  CHECK(map.served() == std::vector<int>{3});

  std::vector<shard_route> routes(shard_count);
  routes[4] = shard_route{shard_place::remote, "b", "127.0.0.1:9082"};
  routes[3] = shard_route{shard_place::remote, "a", "127.0.0.1:9081"};
  map.set_routes(routes);
  CHECK(map.route(4).place == shard_place::remote);
  CHECK(map.route(4).address == "127.0.0.1:9082");

  fake_now += 2s;  // the deadline passes with no renewal: not served, by itself
  CHECK_FALSE(map.serves(3));
  CHECK(map.route(3).place == shard_place::unavailable);  // our lease, not served: nobody
  CHECK(map.readiness_problem() == "leases_expired");

  map.serve_until(5, fake_now + 1s);
  map.close();
  CHECK_FALSE(map.serves(5));
  map.serve_until(5, fake_now + 1s);
  CHECK_FALSE(map.serves(5));
  CHECK_FALSE(map.serves(-1));
  CHECK_FALSE(map.serves(shard_count));
}

TEST_CASE("refresh_soon asks the keeper once until it took the request") {
  shard_map map("a", "x:1");
  int asked = 0;
  map.on_refresh_request([&] { ++asked; });
  map.refresh_soon();
  map.refresh_soon();
  CHECK(asked == 1);
  map.refresh_taken();
  map.refresh_soon();
  CHECK(asked == 2);
}
