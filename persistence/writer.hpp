#pragma once
// The write-behind writer: a detached actor (own thread, so its blocking
// store calls never hold a CAF worker) that group-commits what entity actors
// hand it.
//
// Adaptive group commit: one self-sent `flush` is outstanding at a time, and
// it commits everything that arrived before it, so a batch is whatever
// accumulated while the previous commit ran (no timer delay).
//
//   write ---> queue --flush--> commit --ok--> committed(max token) per entity
//                                  |
//                                  +-- transient --> back-off (50 ms .. 5 s) --> retry same batch
//                                  |      (unreachable: forever; reachable: commit_attempts_max)
//                                  +-- attempts spent --> write_failed per entity, fence its epoch
//                                  +-- permanent / fenced (more than one entity)
//                                         --> commit it in halves, halves of halves (bisect.hpp)
//                                             part ok: committed | one entity refused: write_failed,
//                                             fence its epoch | transient: the rest waits as one batch
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>

#include "caf/fwd.hpp"
#include "caf/typed_response_promise.hpp"

#include "persistence/store_connection.hpp"
#include "persistence/write_queue.hpp"
#include "protocols/caf_types.hpp"
#include "protocols/limits.hpp"

namespace tally {

class metrics;
struct store_health;

struct writer_settings {
  /// Records per store transaction at most.
  size_t batch_records_max = write_batch_records_max;
  /// Transient failures of one batch while the store answers pings, before
  /// the batch is given up (a lock that never clears, say).
  int commit_attempts_max = 10;
  /// Store commits spent at most on splitting one batch the store refused
  /// for good. One bad entity in a full batch costs about 2 * log2(8192) =
  /// 26 commits, so this isolates a handful; a batch with more bad entities
  /// is likely bad throughout (a bug, a schema mismatch), and the parts left
  /// fail whole, as without splitting, rather than stall every other write
  /// behind a commit per entity.
  size_t split_commits_max = 128;
  /// Back-off after a transient failure: doubles from initial up to max.
  std::chrono::milliseconds retry_backoff_initial{50};
  std::chrono::milliseconds retry_backoff_max{5'000};
  /// Period of the health tick: ping while unreachable, sweep when due.
  std::chrono::milliseconds health_check_interval{1'000};
  /// Expired idempotency keys are deleted this often. Often, so that each
  /// delete stays small: commits wait while it runs (at 5 k keys/s, a 10 s
  /// sweep deletes ~50 k rows).
  std::chrono::milliseconds idempotency_sweep_interval{std::chrono::seconds(10)};
  /// Keys younger than this are kept (API.md: >= 24 h).
  std::chrono::microseconds idempotency_retention{std::chrono::hours(24)};
  /// Expired magic links, codes and sessions are deleted this often
  /// (store::delete_expired_auth; it keeps them a day past expiry, so a
  /// minute more or less does not matter, and each delete stays small).
  std::chrono::milliseconds auth_sweep_interval{std::chrono::seconds(60)};
  /// Payment-webhook dedupe records older than this are deleted
  /// (store::delete_webhook_events_before), every webhook_sweep_interval.
  std::chrono::microseconds webhook_retention{std::chrono::hours(24 * 7)};
  std::chrono::milliseconds webhook_sweep_interval{std::chrono::seconds(60)};
};

struct writer_state {
  static inline const char* name = "tally.writer";

  store_connection db;
  writer_settings settings;
  store_health* health = nullptr;
  metrics* process_metrics = nullptr;
  write_queue queue;
  /// A batch that failed transiently, waiting for its back-off.
  std::optional<prepared_batch> failed;
  uint64_t retry_generation = 0;
  std::chrono::milliseconds backoff{0};
  int attempts = 0;
  bool flush_outstanding = false;
  caf::actor_clock::time_point last_sweep{};
  caf::actor_clock::time_point last_auth_sweep{};
  caf::actor_clock::time_point last_webhook_sweep{};
  /// Set by flush_and_stop: deliver once nothing is pending.
  std::optional<caf::typed_response_promise<bool>> stop_promise;
};

/// Behaviour of the writer; spawn it detached in production
/// (spawn_writer), or scheduled on the test coordinator.
writer_actor::behavior_type writer_behavior(writer_actor::stateful_pointer<writer_state> self,
                                            store_factory make_store, writer_settings settings,
                                            store_health* health, metrics* process_metrics);

/// Spawns the writer on its own thread.
writer_actor spawn_writer(caf::actor_system& system, store_factory make_store,
                          writer_settings settings, store_health& health,
                          metrics& process_metrics);

} // namespace tally
