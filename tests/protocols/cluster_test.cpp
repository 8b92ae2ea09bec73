#include <catch2/catch.hpp>

#include <set>

#include "protocols/cluster.hpp"

using namespace tally;

TEST_CASE("a key's shard is fixed by the contract, not by the build") {
  // Pinned values: changing shard_of would move every key of a running
  // cluster to another shard.
  CHECK(shard_of(*parse_uuid("00000000-0000-0000-0000-000000000000")) == 5);
  CHECK(shard_of(*parse_uuid("6f1c2d1e-8a8b-4c1e-9f4a-0a6d3c2b1e0f")) == shard_of(*parse_uuid("6F1C2D1E-8A8B-4C1E-9F4A-0A6D3C2B1E0F")));
}

TEST_CASE("random keys spread over every shard") {
  std::set<int> seen;
  for (int i = 0; i < 20000; ++i) {
    int shard = shard_of(random_uuid());
    REQUIRE(shard >= 0);
    REQUIRE(shard < shard_count);
    seen.insert(shard);
  }
  CHECK(seen.size() == static_cast<size_t>(shard_count));
}
