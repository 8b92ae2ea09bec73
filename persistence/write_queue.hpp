#pragma once
// The writer's logic without the actor: entity writes wait here until the
// next group commit, which takes them whole and in arrival order (so each
// entity's order holds), coalesces them (prepare_batch) and stops at
// `batch_records_max` records. Also remembers fenced entity epochs, whose
// later writes must never reach the store.
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "persistence/prepared_batch.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

class write_queue {
public:
  write_queue() = default;
  explicit write_queue(size_t batch_records_max) : batch_records_max_(batch_records_max) {}

  /// Queues a write. False (and nothing queued) if its epoch is fenced.
  bool push(entity_write&& write);

  bool empty() const { return writes_.size() == head_; }
  /// Records queued (as received).
  int64_t queued_records() const { return queued_records_; }

  /// The oldest writes, whole, up to batch_records_max records; always at
  /// least one write even if it alone is larger. Empty if nothing is queued.
  prepared_batch take_batch();

  /// Refuses `member`'s epoch (and older) from now on. Returns the queued
  /// writes of those epochs, removed from the queue.
  std::vector<entity_write> fence(const batch_member& member);

  /// Fenced entities remembered at most; beyond it the oldest are forgotten
  /// (the store's epoch check still rejects their writes).
  static constexpr size_t fenced_entities_max = 100'000;

private:
  void compact();

  size_t batch_records_max_ = 1;
  std::vector<entity_write> writes_;
  size_t head_ = 0;
  int64_t queued_records_ = 0;
  std::unordered_map<uuid, int64_t, uuid_hash> fenced_epochs_;
};

} // namespace tally
