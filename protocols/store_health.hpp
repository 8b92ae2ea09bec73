#pragma once
// Shared, lock-free view of the write-behind pipeline, read by /readyz and by
// user actors before they accept a mutation (backlog bound -> 503 OVERLOADED).
#include <atomic>
#include <cstdint>

#include "protocols/limits.hpp"

namespace tally {

struct store_health {
  /// False while the last store operation failed with a connection fault.
  std::atomic<bool> reachable{true};
  /// True while the writer's last commit failed (the store may answer pings
  /// and still refuse every write: a locked SQLite file, a full disk).
  std::atomic<bool> commits_failing{false};
  /// Records handed to the writer and not yet committed (or dropped).
  std::atomic<int64_t> backlog_records{0};
  /// Bound on backlog_records: above it, mutations get 503 OVERLOADED.
  int64_t backlog_records_max = tally::backlog_records_max;

  bool backlog_full() const {
    return backlog_records.load(std::memory_order_relaxed) >= backlog_records_max;
  }
};

} // namespace tally
