#pragma once
// The lease keeper's decisions as pure functions (DESIGN.md "Cluster"):
// which node should own a shard (rendezvous hashing over the live nodes),
// until when this node may serve a shard it renewed (its own monotonic
// deadline), and what to claim and hand over on a tick. Unit-tested in
// tests/actors/lease_decisions_test.cpp; applied by actors/lease_keeper.cpp.
#include <array>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/cluster.hpp"

namespace tally {

/// Shards handed over per tick at most: a joining node takes its share a
/// few at a time, so the shards in transit (503 to their callers) stay few.
constexpr size_t lease_handoffs_per_tick_max = 8;

/// Renewals per TTL: a tick every TTL / 5, so one or two late renewals do
/// not cost a lease.
constexpr int lease_ticks_per_ttl = 5;

/// Rendezvous weight of (node, shard): a fixed 64-bit hash (FNV-1a of the
/// id and the shard, then a mixer), the same on every node and build.
uint64_t rendezvous_weight(std::string_view node_id, int shard);

/// The node among `live` with the highest weight for `shard` (ties: the
/// smaller id); empty when `live` is empty.
std::string preferred_node(int shard, const std::vector<std::string>& live);

/// How much earlier than the store's expiry a node stops serving: the
/// store's clock counts the TTL from when it ran the renewal (after it was
/// sent), and this margin covers clock-rate differences and the time a
/// claim takes. One tenth of the TTL, at least 50 ms.
std::chrono::milliseconds lease_deadline_margin(std::chrono::milliseconds ttl);

/// The local, monotonic deadline of a lease renewed (or claimed) by a
/// statement sent at `sent`: sent + TTL - margin. Never later than the
/// store's expiry, whatever the wall clocks say.
std::chrono::steady_clock::time_point lease_deadline(std::chrono::steady_clock::time_point sent,
                                                     std::chrono::milliseconds ttl);

/// One tick's view of the shards.
struct lease_view {
  /// This node's id.
  std::string self;
  /// Nodes that may own shards (alive or suspect, not left), self included.
  std::vector<std::string> live;
  /// The current owner of each shard by an unexpired lease ("" = free or expired).
  std::array<std::string, shard_count> owner;
  /// Shards this node holds and serves (not already being handed over).
  std::array<bool, shard_count> serving{};
  /// Free or expired for longer than a TTL: claimable by anyone (the
  /// preferred node is not taking it).
  std::array<bool, shard_count> orphaned{};
};

/// What to do on a tick.
struct lease_plan {
  /// Free or expired shards to claim: those this node is preferred for,
  /// and orphans.
  std::vector<int> claims;
  /// Shards this node serves but another live node is preferred for, at
  /// most `handoffs_max` (lowest shard first).
  std::vector<int> handoffs;
};

lease_plan plan_leases(const lease_view& view, size_t handoffs_max = lease_handoffs_per_tick_max);

} // namespace tally
