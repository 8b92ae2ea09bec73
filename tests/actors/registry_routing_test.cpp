// actors/registry: the cluster decision in front of routing, on the
// deterministic scheduler over the simulated store. A command for another
// node's shard goes to the remote door (no local entity), an arrival for it
// is refused with not_shard_owner, a shard nobody serves fails at once.
#include <set>

#include "actors/dispatch.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace tally;
using namespace tally::test;

namespace {

/// Serves the shards in `mine`; every other shard is remote (or unavailable).
struct table_directory : shard_directory {
  std::set<int> mine;
  bool owners_known = true;
  bool serves(int shard) const override { return mine.count(shard) != 0; }
  shard_route route(int shard) const override {
    if (serves(shard)) return {shard_place::local, "me", "127.0.0.1:1"};
    if (!owners_known) return {};
    return {shard_place::remote, "other", "127.0.0.1:2"};
  }
  void refresh_soon() override {}
};

/// Keeps what it is asked to forward.
struct recording_remote : remote_commands {
  std::vector<envelope> sent;
  std::vector<completion> waiting;
  void forward(envelope message, completion done) override {
    sent.push_back(std::move(message));
    waiting.push_back(std::move(done));
  }
};

struct routing_fixture : actor_fixture {
  table_directory shards;
  recording_remote remote;
  registry_actor registry;

  routing_fixture() {
    context.shards = &shards;
    context.remote = &remote;
    spawn_writer();
    registry = spawn_registry({spawn_reader()});
  }

  template <class T>
  static std::pair<reply<T>, std::shared_ptr<std::optional<outcome<T>>>> capture() {
    auto got = std::make_shared<std::optional<outcome<T>>>();
    return {reply<T>{[got](outcome<T> r) { got->emplace(std::move(r)); }}, got};
  }

  double users_active() { return process_metrics.active_actors.Add({{"kind", "user"}}).Value(); }
};

} // namespace

TEST_CASE_METHOD(routing_fixture, "a command for a served shard is served here, as on a single node") {
  auto payer = new_user({10, 0});
  shards.mine.insert(shard_of(payer));
  auto [done, got] = capture<balance>();
  dispatch(registry, payer, balance_request{session_of(payer)}, done);
  run_jobs();
  REQUIRE(got->has_value());
  CHECK((*got)->value() == balance{10, 0});
  CHECK(remote.sent.empty());
}

TEST_CASE_METHOD(routing_fixture, "a command for another node's shard goes to the remote door with its completion") {
  auto payer = new_user({10, 0});
  auto [done, got] = capture<mutation_reply<charge_result>>();
  dispatch(registry, payer, charge_request{session_of(payer), charge_command{3, "", {"k", "d"}}}, done);
  run_jobs();
  REQUIRE(remote.sent.size() == 1);
  CHECK(remote.sent[0].key == payer);
  CHECK(std::holds_alternative<user_command>(remote.sent[0].command));
  CHECK_FALSE(got->has_value());  // the remote door answers, not the registry
  CHECK(users_active() == 0);     // no local entity
  CHECK(db->committed_balance(payer) == balance{10, 0});
  fail(remote.waiting[0], failure{error_code::insufficient_credits, "", 0});
  REQUIRE(got->has_value());
  CHECK((*got)->error().code == error_code::insufficient_credits);
}

TEST_CASE_METHOD(routing_fixture, "an arrival for a shard this node does not serve is refused, never forwarded") {
  auto payer = new_user({10, 0});
  auto [done, got] = capture<balance>();
  caf::anon_send(registry, local_only_atom_v, payer, to_entity_command(balance_request{session_of(payer)}),
                 completion{done});
  run_jobs();
  REQUIRE(got->has_value());
  CHECK((*got)->error().code == error_code::not_shard_owner);
  CHECK(remote.sent.empty());
  CHECK(users_active() == 0);

  shards.mine.insert(shard_of(payer));  // now ours: served like any command
  auto [again, answered] = capture<balance>();
  caf::anon_send(registry, local_only_atom_v, payer, to_entity_command(balance_request{session_of(payer)}),
                 completion{again});
  run_jobs();
  REQUIRE(answered->has_value());
  CHECK((*answered)->value() == balance{10, 0});
}

TEST_CASE_METHOD(routing_fixture, "a shard nobody serves fails at once with shard_unavailable and Retry-After") {
  shards.owners_known = false;
  auto [done, got] = capture<balance>();
  dispatch(registry, random_uuid(), balance_request{random_uuid()}, done);
  run_jobs();
  REQUIRE(got->has_value());
  CHECK((*got)->error().code == error_code::shard_unavailable);
  CHECK((*got)->error().retry_after_s >= 1);
  CHECK(remote.sent.empty());
}
