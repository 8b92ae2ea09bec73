#pragma once
// The actor side of the service, as app/main.cpp sees it: one object that
// starts the writer, the readers and the registry, hands out the gateway and
// stops them again in order.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "caf/fwd.hpp"

#include "protocols/auth.hpp"
#include "protocols/caf_types.hpp"
#include "protocols/generation_provider.hpp"
#include "protocols/generations.hpp"
#include "protocols/limits.hpp"
#include "protocols/tenants.hpp"
#include "protocols/webhook.hpp"

namespace tally {

class arriving_commands;
class gateway;
class metrics;
class shard_directory;
class remote_commands;
class shard_directory;
class store;

/// When a mutation is acknowledged.
enum class ack_mode {
  commit,  ///< after the store committed it (durable; the default)
  memory,  ///< after the in-memory apply; a crash may lose the last flush window
};

struct runtime_config {
  ack_mode ack = ack_mode::commit;
  /// Idle users and identities are passivated (memory freed) after this.
  std::chrono::milliseconds passivate_after{600'000};
  /// Per-actor window of uncommitted replies (CAF-0.17.md §4: keep windows small).
  size_t user_pending_replies_max = entity_pending_replies_max;
  /// Committed idempotency keys per user kept in memory.
  size_t idempotency_cached_max = tally::idempotency_cached_max;
  /// Idempotency keys are kept (and replayed) at least this long.
  std::chrono::hours idempotency_retention{24};
  /// Records per store transaction at most.
  size_t write_batch_records_max = tally::write_batch_records_max;
  /// Records handed to the writer and not committed, before 503 OVERLOADED.
  int64_t backlog_records_max = tally::backlog_records_max;
  /// Reader actors (own store connection each), used round-robin.
  size_t reader_count = 2;
  /// Login, session and rate-limit settings (API.md "Auth").
  auth_config auth;
  /// Generation limits and time-out (API.md "Generations").
  generation_config generations;
  /// How often the sweep looks for generations past their timeout_at.
  std::chrono::milliseconds generation_sweep_interval{30'000};
  /// The provider (http/: a client or the simulated one); the runtime puts
  /// it behind the circuit breaker configured by `provider_settings`.
  /// Null: every create is refused with PROVIDER_UNAVAILABLE.
  std::shared_ptr<generation_provider> provider;
  provider_config provider_settings;
  /// Module catalog, reserved subdomains, trial length (API.md "Tenants").
  tenant_config tenants;
  /// Payment webhooks: dedupe retention and its sweep, waiting deliveries.
  webhook_config webhook;
  /// Cluster mode (protocols/cluster.hpp): which shards this node serves,
  /// and the door to the nodes that serve the others. Both null on a single
  /// node; when set they outlive the runtime.
  shard_directory* shards = nullptr;
  remote_commands* remote = nullptr;
};

/// Opens one store connection; called on the writer's and readers' threads.
using store_factory = std::function<std::unique_ptr<store>()>;

class runtime {
public:
  /// Spawns the writer (detached), `reader_count` readers (detached) and the
  /// registry. `metrics` must outlive the runtime.
  runtime(caf::actor_system& system, runtime_config config, store_factory make_store,
          metrics& metrics);
  /// Calls shutdown() if it was not called.
  ~runtime();

  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;

  /// Lives as long as the runtime.
  gateway& gate();

  /// The registry (cluster mode: the lease keeper tells it which shards to
  /// drain or drop).
  const registry_actor& registry() const;

  /// Where commands from other nodes enter (the internal listener's door):
  /// served here or refused with not_shard_owner. Lives as long as the runtime.
  arriving_commands& arrivals();

  /// Start-up, before serving: every user with a generation left active in
  /// the store is activated, which fails those as interrupted and releases
  /// them; returns once every release committed (true) or after `max`.
  /// Blocks the calling (non-actor) thread.
  bool recover_generations(std::chrono::milliseconds max);

  /// Stops taking commands (shutting_down), lets every user finish what it
  /// was sent, flushes the writer, then stops all actors. Blocks the calling
  /// (non-actor) thread. True if everything pending was committed.
  bool shutdown(std::chrono::milliseconds flush_max);

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tally
