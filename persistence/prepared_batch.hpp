#pragma once
// One group commit's worth of entity writes, coalesced for store::commit,
// and how a batch that failed for good is split in two (writer.cpp bisects
// it until only the entities whose writes the store refuses fail).
//
// Coalescing: the rows written by key (coalesce_key.hpp: balances and
// identities per entity, magic links per token hash, login codes per
// identity, sessions per id) keep one row per key, the last one wins, at
// the position of the first; every other row keeps arrival order.
#include <cstdint>
#include <utility>
#include <vector>

#include "protocols/caf_types.hpp"

namespace tally {

/// Everything one entity (at one epoch) has in a prepared batch.
struct batch_member {
  uuid entity{};
  int64_t epoch = 0;
  write_listener listener;
  /// The newest token of this member in the batch: committed(max_token).
  uint64_t max_token = 0;
};

/// One transaction's worth, ready for store::commit.
struct prepared_batch {
  /// The coalesced rows, copied from `writes`.
  write_batch batch;
  std::vector<batch_member> members;
  /// Records as handed over (before coalescing): what leaves the backlog.
  int64_t records_received = 0;
  /// The writes as received, in arrival order: a batch that fails for good
  /// is split from these (the coalesced rows cannot be told apart again).
  std::vector<entity_write> writes;
};

/// Coalesces `writes` (in arrival order) into one batch. The rows are
/// copied, not moved, so the batch keeps its writes whole for a split.
prepared_batch prepare_batch(std::vector<entity_write> writes);

/// Entities (not members: one entity may have two epochs) in the batch.
size_t distinct_entities(const prepared_batch& prepared);

/// Splits a batch's writes by entity into two halves: the entities that
/// arrived first, and the rest. An entity's writes stay together and in
/// order; each half keeps arrival order. Needs two entities at least.
std::pair<std::vector<entity_write>, std::vector<entity_write>> split_by_entity(
  std::vector<entity_write> writes);

} // namespace tally
