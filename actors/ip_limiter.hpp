#pragma once
// One shard of the per-client-IP limiter (API.md: 30 magic links per minute
// per client IP). A few shards share the IPs by hash, so one busy limiter
// never serialises every login; each keeps a bounded GCRA table
// (ip_limit_table.hpp). In memory only: a restart forgets the counts, which
// at most grants each IP one more burst.
#include <cstddef>

#include "actors/entity_context.hpp"
#include "actors/ip_limit_table.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

struct ip_limiter_state {
  static inline const char* name = "tally.ip_limiter";
  ip_limit_table table{rate_limit{}, 1};
  wall_clock clock;
};

/// Behaviour of one shard: `limit` per IP, at most `entries_max` IPs.
ip_limiter_actor::behavior_type ip_limiter_behavior(
  ip_limiter_actor::stateful_pointer<ip_limiter_state> self, rate_limit limit, size_t entries_max,
  wall_clock clock);

} // namespace tally
