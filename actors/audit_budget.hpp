#pragma once
// How many audit rows failed anonymous login attempts may write, node-wide.
//
// API.md wants every failed attempt in the audit log, but a flood of random
// tokens or codes would then write one row per request: the log is the
// cheapest way to grow the database from outside. So failures share one
// GCRA budget (auth.audit_login_failures): within it every failure is
// written as before; beyond it the row is dropped and counted, and the next
// row that is written carries that count in its detail ("...; 123 earlier
// failures not audited"), so the log says where it has a gap and how big.
// Successful logins, refreshes and logouts are never dropped.
//
// Shared by every identity actor and the login gate without messages: one
// atomic TAT (compare-and-swap), never a lock, never a wait.
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>

#include "actors/rate_limit.hpp"

namespace tally {

class audit_budget {
public:
  explicit audit_budget(rate_limit limit) : limit_(limit) {}

  /// Whether a failure's row may be written at `now`; when it may, the
  /// number of rows dropped since the last one written (taken: reported once).
  std::optional<uint64_t> admit(timestamp_us now);

  /// Rows dropped so far (all time).
  uint64_t dropped_total() const { return dropped_total_.load(std::memory_order_relaxed); }

private:
  rate_limit limit_;
  std::atomic<timestamp_us> tat_{0};
  std::atomic<uint64_t> dropped_since_written_{0};
  std::atomic<uint64_t> dropped_total_{0};
};

/// budget->admit(now); no budget (nullptr) admits every row.
inline std::optional<uint64_t> admit_audit(audit_budget* budget, timestamp_us now) {
  return budget != nullptr ? budget->admit(now) : std::optional<uint64_t>{0};
}

/// The detail of an admitted row: `detail`, plus the gap before it if any.
std::string audit_detail_after_gap(std::string detail, uint64_t dropped);

} // namespace tally
