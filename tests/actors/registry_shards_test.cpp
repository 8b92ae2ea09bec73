// The registry's cluster handlers (actors/registry.cpp): a command for a
// shard this node does not serve is refused without activating anything;
// shard_lost passivates a shard's entities at once; shard_drain answers only
// once they committed what they were sent and were passivated.
#include "tests/actors/actor_fixture.hpp"

#include "protocols/cluster.hpp"

using namespace tally;
using namespace tally::test;

namespace {

struct fixed_shards final : shard_directory {
  std::array<bool, shard_count> serving{};
  bool serves(int shard) const override { return serving[static_cast<size_t>(shard)]; }
  shard_route route(int) const override { return {}; }
  void refresh_soon() override {}
};

struct shards_fixture : actor_fixture {
  shards_fixture() {
    shards.serving.fill(true);
    context.shards = &shards;
    writer = spawn_writer();
    registry = spawn_registry({spawn_reader()});
  }

  double active_users() { return process_metrics.active_actors.Add({{"kind", "user"}}).Value(); }

  /// Runs every actor except the writer, so writes wait in its mailbox.
  void hold_writes() {
    auto* held = caf::actor_cast<caf::abstract_actor*>(writer);
    sched.run_jobs_filtered([held](caf::resumable* job) { return dynamic_cast<caf::abstract_actor*>(job) != held; });
  }

  fixed_shards shards;
  writer_actor writer;
  registry_actor registry;
};

} // namespace

TEST_CASE_METHOD(shards_fixture, "a command for a shard not served here is refused, nothing activated") {
  auto id = new_user({10, 0});
  shards.serving[static_cast<size_t>(shard_of(id))] = false;
  auto activations = db->activations();
  auto charged = charge(registry, id, 1);
  run_jobs();
  CHECK(error_of(charged) == error_code::shard_unavailable);
  CHECK(db->activations() == activations);
  CHECK(db->committed_balance(id) == balance{10, 0});
}

TEST_CASE_METHOD(shards_fixture, "shard_lost passivates the shard's entities, and only those") {
  auto lost = new_user({10, 0});
  auto kept = new_user({10, 0});
  while (shard_of(kept) == shard_of(lost)) kept = new_user({10, 0});
  charge(registry, lost, 1);
  charge(registry, kept, 1);
  run_jobs();
  CHECK(active_users() == 2);
  auto activations = db->activations();
  caf::anon_send(registry, shard_lost_atom_v, std::vector<int32_t>{shard_of(lost)});
  run_jobs();
  CHECK(active_users() == 1);
  // The next command for it activates a fresh incarnation (reloaded).
  auto again = charge(registry, lost, 1);
  auto other = charge(registry, kept, 1);
  run_jobs();
  CHECK(error_of(again) == error_code::none);
  CHECK(error_of(other) == error_code::none);
  CHECK(db->activations() == activations + 1);
}

TEST_CASE_METHOD(shards_fixture, "shard_drain answers once the shard's writes committed and its entities went") {
  auto id = new_user({10, 0});
  auto charged = charge(registry, id, 3);
  hold_writes();  // the charge's write waits at the writer
  CHECK_FALSE(charged->has_value());
  shards.serving[static_cast<size_t>(shard_of(id))] = false;  // the keeper stops serving first
  auto drained = std::make_shared<std::optional<bool>>();
  auto me = registry;
  sys.spawn([me, id, drained](caf::event_based_actor* self) {
    self->request(me, caf::infinite, shard_drain_atom_v, std::vector<int32_t>{shard_of(id)})
      .then([drained](bool all) { *drained = all; }, [](caf::error&) {});
  });
  hold_writes();
  advance_time(shard_drain_check_interval);
  hold_writes();
  CHECK_FALSE(drained->has_value());  // its write is not committed yet
  CHECK(active_users() == 1);
  run_jobs();  // the writer commits; the entity is idle now
  for (int i = 0; i < 3 && !drained->has_value(); ++i) advance(shard_drain_check_interval);
  REQUIRE(drained->has_value());
  CHECK(**drained);
  CHECK(error_of(charged) == error_code::none);
  CHECK(active_users() == 0);
  CHECK(db->committed_balance(id) == balance{7, 0});
}
