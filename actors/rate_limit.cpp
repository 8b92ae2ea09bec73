#include "actors/rate_limit.hpp"

#include <algorithm>
#include <chrono>
#include <limits>

namespace tally {

namespace {

constexpr int64_t us_per_second = 1'000'000;

} // namespace

int64_t gcra_interval_us(const rate_limit& limit) {
  if (limit.count <= 0) return std::numeric_limits<int64_t>::max();
  auto period_us = std::chrono::duration_cast<std::chrono::microseconds>(limit.period).count();
  return (period_us + limit.count - 1) / limit.count;
}

gcra_decision gcra(timestamp_us tat, timestamp_us now, const rate_limit& limit) {
  gcra_decision out;
  out.tat = tat;
  if (limit.count <= 0) {
    out.retry_after_us = std::numeric_limits<int64_t>::max();
    return out;
  }
  const auto interval = gcra_interval_us(limit);
  // The burst: `count` intervals of debt may be outstanding at once.
  const auto tolerance = interval * limit.count;
  const auto next = std::max(tat, now) + interval;
  if (next - now <= tolerance) {
    out.allowed = true;
    out.tat = next;
    return out;
  }
  out.retry_after_us = next - now - tolerance;
  return out;
}

int retry_after_seconds(int64_t retry_after_us) {
  // Rounded up without adding first: a wait near INT64_MAX (an unusable
  // limit) would overflow `us + us_per_second - 1`.
  auto us = std::max<int64_t>(retry_after_us, 0);
  auto seconds = us / us_per_second + (us % us_per_second != 0 ? 1 : 0);
  return static_cast<int>(std::clamp<int64_t>(seconds, 1, std::numeric_limits<int>::max()));
}

} // namespace tally
