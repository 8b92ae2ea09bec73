#pragma once
// GCRA (generic cell rate algorithm), the rate limiter behind every auth
// limit: "at most `count` events per `period`, with a burst of `count`".
//
// The whole state of one limited key is one timestamp, the theoretical
// arrival time (TAT): when the key would be back to zero debt. Each allowed
// event moves it on by the emission interval T = period / count; an event
// is allowed while the new TAT is at most `period` (= count * T) ahead of
// now. A fresh key (TAT in the past) therefore takes `count` events at once,
// then one every T. One integer per key is why it fits in an identity row
// and in a bounded per-IP table.
#include <cstdint>

#include "protocols/auth.hpp"
#include "protocols/credits.hpp"

namespace tally {

/// The answer for one event.
struct gcra_decision {
  bool allowed = false;
  /// The key's TAT after this event: moved on when allowed, unchanged when not.
  timestamp_us tat = 0;
  /// When refused: how long until the same event would be allowed (> 0).
  int64_t retry_after_us = 0;
};

/// Emission interval of `limit` in microseconds: period / count, rounded up
/// (never more than `count` per period). A limit with count <= 0 allows
/// nothing.
int64_t gcra_interval_us(const rate_limit& limit);

/// Decides one event of a key whose TAT is `tat` (0 = never seen) at `now`.
gcra_decision gcra(timestamp_us tat, timestamp_us now, const rate_limit& limit);

/// True when a key's limit has fully recovered at `now`: forgetting it
/// changes no future decision.
inline bool gcra_recovered(timestamp_us tat, timestamp_us now) { return tat <= now; }

/// Retry-After for a refusal: whole seconds, rounded up, at least 1 (API.md).
int retry_after_seconds(int64_t retry_after_us);

} // namespace tally
