#include "actors/audit_budget.hpp"

namespace tally {

std::optional<uint64_t> audit_budget::admit(timestamp_us now) {
  auto tat = tat_.load(std::memory_order_relaxed);
  for (;;) {
    auto decision = gcra(tat, now, limit_);
    if (!decision.allowed) {
      dropped_since_written_.fetch_add(1, std::memory_order_relaxed);
      dropped_total_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    // Another thread may have spent the same slot: decide again on its TAT.
    if (tat_.compare_exchange_weak(tat, decision.tat, std::memory_order_relaxed)) break;
  }
  return dropped_since_written_.exchange(0, std::memory_order_relaxed);
}

std::string audit_detail_after_gap(std::string detail, uint64_t dropped) {
  if (dropped == 0) return detail;
  return detail + "; " + std::to_string(dropped) + " earlier failures not audited";
}

} // namespace tally
