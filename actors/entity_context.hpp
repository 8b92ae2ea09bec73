#pragma once
// What every entity actor of a runtime (users and identities) shares: the
// writer, the pipeline's health, limits, the auth settings and the clock.
// Owned by the runtime (or a test fixture) and outliving every actor.
#include <chrono>
#include <cstddef>
#include <functional>
#include <vector>

#include "caf/timespan.hpp"

#include "actors/runtime.hpp"
#include "protocols/auth.hpp"
#include "protocols/caf_types.hpp"
#include "protocols/cluster.hpp"
#include "protocols/credits.hpp"
#include "protocols/generation_provider.hpp"
#include "protocols/limits.hpp"
#include "protocols/store_health.hpp"
#include "protocols/tenants.hpp"
#include "protocols/webhook.hpp"

namespace tally {

class audit_budget;
class generation_metrics;

/// Wall-clock time for auth decisions (expiry, back-off, limits): now_us()
/// in production, the virtual clock under the deterministic test scheduler.
using wall_clock = std::function<timestamp_us()>;

struct entity_context {
  ack_mode ack = ack_mode::commit;
  /// An entity with no command for this long is asked whether it is idle.
  caf::timespan passivate_after{std::chrono::minutes(10)};
  /// Uncommitted writes (and so waiting replies) per entity before 503 OVERLOADED.
  size_t pending_replies_max = entity_pending_replies_max;
  /// Committed idempotency keys kept in memory per user.
  size_t idempotency_cached_max = tally::idempotency_cached_max;
  /// Keys older than this are expired (API.md: kept >= 24 h).
  std::chrono::microseconds idempotency_retention{std::chrono::hours(24)};
  writer_actor writer;
  store_health* health = nullptr;
  /// Login, session and rate-limit settings.
  auth_config auth;
  /// Audit rows of failed logins, node-wide (audit_budget.hpp); nullptr:
  /// every failure is written.
  audit_budget* login_failure_audits = nullptr;
  /// Module catalog, reserved subdomains, trial length.
  tenant_config tenants;
  wall_clock clock = now_us;
  /// Ids of users created by a login and of sessions: random_uuid() in
  /// production; the simulation draws them from its seed, so that a seed
  /// replays exactly (registry maps are ordered by id).
  std::function<uuid()> new_id = random_uuid;
  /// Generation limits and time-out (API.md "Generations").
  generation_config generations;
  /// The provider behind its circuit breaker; outlives every actor. Null:
  /// generations are refused with provider_unavailable.
  generation_provider* provider = nullptr;
  /// Null in tests.
  generation_metrics* generation_stats = nullptr;
  /// Payment webhooks: dedupe retention, waiting deliveries per event.
  webhook_config webhook;
  /// Cluster mode (TALLY_CLUSTER=1): which shards this node serves, and the
  /// door to the nodes that serve the others. Both null on a single node,
  /// where the registry serves every key.
  shard_directory* shards = nullptr;
  remote_commands* remote = nullptr;
};

/// Microseconds of a duration, for timestamp arithmetic.
template <class Rep, class Period>
constexpr int64_t micros(std::chrono::duration<Rep, Period> d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

} // namespace tally
