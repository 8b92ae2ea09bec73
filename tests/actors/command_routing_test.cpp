// actors/command_routing: the registry's first decision, for every view a
// shard directory can give.
#include <catch2/catch.hpp>

#include "actors/command_routing.hpp"

using namespace tally;

namespace {

struct fixed_directory : shard_directory {
  bool serving = false;
  shard_place place = shard_place::remote;
  bool serves(int) const override { return serving; }
  shard_route route(int) const override { return {place, "b", "127.0.0.1:9001"}; }
  void refresh_soon() override {}
};

struct no_remote : remote_commands {
  void forward(envelope, completion) override {}
};

} // namespace

TEST_CASE("a single node serves every key") {
  no_remote remote;
  CHECK(path_for(nullptr, nullptr, random_uuid(), false) == command_path::serve);
  CHECK(path_for(nullptr, &remote, random_uuid(), true) == command_path::serve);
}

TEST_CASE("a served shard is served, whether the command arrived or not") {
  fixed_directory shards;
  no_remote remote;
  shards.serving = true;
  CHECK(path_for(&shards, &remote, random_uuid(), false) == command_path::serve);
  CHECK(path_for(&shards, &remote, random_uuid(), true) == command_path::serve);
}

TEST_CASE("another node's shard is forwarded once, and an arrival for it is refused") {
  fixed_directory shards;
  no_remote remote;
  CHECK(path_for(&shards, &remote, random_uuid(), false) == command_path::forward);
  CHECK(path_for(&shards, &remote, random_uuid(), true) == command_path::misdirected);
}

TEST_CASE("no owner, no door, or a lease this node may not use now: unavailable") {
  fixed_directory shards;
  no_remote remote;
  shards.place = shard_place::unavailable;
  CHECK(path_for(&shards, &remote, random_uuid(), false) == command_path::unavailable);
  shards.place = shard_place::local;  // ours, but past its local deadline or handed over
  CHECK(path_for(&shards, &remote, random_uuid(), false) == command_path::unavailable);
  shards.place = shard_place::remote;
  CHECK(path_for(&shards, nullptr, random_uuid(), false) == command_path::unavailable);
  CHECK(shard_unavailable_failure().retry_after_s >= 1);
}
