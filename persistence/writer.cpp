#include "persistence/writer.hpp"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "caf/all.hpp"

#include "persistence/bisect.hpp"

#include "protocols/log.hpp"
#include "protocols/metrics.hpp"
#include "protocols/store_health.hpp"

namespace tally {

namespace {

using writer_pointer = writer_actor::stateful_pointer<writer_state>;

void leave_backlog(writer_state& st, int64_t records) {
  auto left = st.health->backlog_records.fetch_sub(records, std::memory_order_relaxed) - records;
  st.process_metrics->backlog_records.Set(static_cast<double>(left));
}

void count_error(writer_state& st, store_fault fault) {
  st.process_metrics->store_errors.Add({{"kind", to_string(fault)}}).Increment();
}

void set_reachable(writer_state& st, bool reachable) {
  bool was = st.health->reachable.exchange(reachable);
  if (was != reachable)
    log_event(reachable ? log_level::info : log_level::warn,
              reachable ? "store reachable again" : "store unreachable");
}

/// One cheap round trip: does the store answer at all?
bool store_answers(writer_state& st) {
  try {
    st.db.get().ping();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool nothing_pending(const writer_state& st) {
  return st.queue.empty() && !st.failed;
}

/// Keeps exactly one flush in the mailbox while there is work and no batch
/// is waiting for its back-off.
void schedule_flush(writer_pointer self) {
  auto& st = self->state;
  if (st.flush_outstanding || st.failed || st.queue.empty()) return;
  st.flush_outstanding = true;
  self->send(self, flush_atom_v);
}

void finish_stop_if_done(writer_pointer self) {
  auto& st = self->state;
  if (!st.stop_promise || !nothing_pending(st)) return;
  st.stop_promise->deliver(true);
  st.stop_promise.reset();
  self->quit();
}

void refuse(writer_pointer self, const entity_write& write) {
  self->send(write.listener, write_failed_atom_v, write.token);
  leave_backlog(self->state, static_cast<int64_t>(write.records.record_count()));
}

/// The batch will never commit: tell its entities, and fence their epochs so
/// nothing they queued after it can commit either.
void give_up(writer_pointer self, prepared_batch& batch, store_fault fault, const std::string& why) {
  auto& st = self->state;
  log_event(log_level::error, "write batch dropped",
            {{"fault", std::string_view(to_string(fault))},
             {"error", std::string_view(why)},
             {"records", batch.records_received},
             {"entities", static_cast<int64_t>(batch.members.size())}});
  for (const auto& member : batch.members) {
    self->send(member.listener, write_failed_atom_v, member.max_token);
    for (const auto& dropped : st.queue.fence(member)) refuse(self, dropped);
  }
  leave_backlog(st, batch.records_received);
  st.attempts = 0;
  st.backoff = std::chrono::milliseconds{0};
}

/// Why a store commit failed.
struct commit_failure {
  store_fault fault;
  std::string why;
};

/// One store commit; none if it succeeded.
std::optional<commit_failure> try_commit(writer_state& st, const prepared_batch& batch) {
  auto started = std::chrono::steady_clock::now();
  std::optional<commit_failure> failure;
  try {
    st.db.get().commit(batch.batch);
  } catch (const store_error& e) {
    failure = commit_failure{e.fault(), e.what()};
  } catch (const std::exception& e) {
    failure = commit_failure{store_fault::permanent, e.what()};
  }
  if (failure) {
    count_error(st, failure->fault);
    // A refused row is one entity's problem; a transient fault is the
    // store's, and /readyz reports it even while pings still answer.
    if (failure->fault == store_fault::transient)
      st.health->commits_failing.store(true, std::memory_order_relaxed);
    return failure;
  }
  st.health->commits_failing.store(false, std::memory_order_relaxed);
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  st.process_metrics->flush_latency.Observe(took.count());
  st.process_metrics->batch_records.Observe(static_cast<double>(batch.batch.record_count()));
  set_reachable(st, true);
  return std::nullopt;
}

void acknowledge(writer_pointer self, const prepared_batch& batch) {
  for (const auto& member : batch.members)
    self->send(member.listener, committed_atom_v, member.max_token);
  leave_backlog(self->state, batch.records_received);
}

/// A transient failure: the batch waits for its back-off and is retried
/// whole, unless the store answers and the batch has spent its attempts.
void retry_later(writer_pointer self, prepared_batch batch, const commit_failure& failure) {
  auto& st = self->state;
  bool reachable = store_answers(st);
  set_reachable(st, reachable);
  // While the store is down, retry forever (the backlog bound turns new
  // work away); a store that answers but keeps failing gets a bound.
  if (reachable) ++st.attempts;
  if (reachable && st.attempts > st.settings.commit_attempts_max) {
    give_up(self, batch, failure.fault, failure.why);
    return;
  }
  st.backoff = st.backoff.count() == 0 ? st.settings.retry_backoff_initial
                                       : std::min(st.backoff * 2, st.settings.retry_backoff_max);
  log_event(log_level::warn, "commit failed; retrying",
            {{"error", std::string_view(failure.why)},
             {"attempt", static_cast<int64_t>(st.attempts)},
             {"backoff_ms", static_cast<int64_t>(st.backoff.count())}});
  st.failed = std::move(batch);
  self->delayed_send(self, st.backoff, retry_atom_v, ++st.retry_generation);
}

/// The batch's two halves by entity (split_by_entity), prepared; none if
/// it holds one entity, whose writes are never split.
std::optional<std::pair<prepared_batch, prepared_batch>> halve(prepared_batch& batch) {
  if (distinct_entities(batch) < 2) return std::nullopt;
  auto [earlier, later] = split_by_entity(std::move(batch.writes));
  return std::pair{prepare_batch(std::move(earlier)), prepare_batch(std::move(later))};
}

/// The store refused the batch for good (a bad row, a fenced epoch): commit
/// it in halves, and halves of halves, so that only the entities whose
/// writes the store refuses fail, not every entity that shared the batch.
void commit_apart(writer_pointer self, prepared_batch refused, commit_failure failure) {
  auto& st = self->state;
  st.attempts = 0;
  st.backoff = std::chrono::milliseconds{0};
  if (distinct_entities(refused) > 1)
    log_event(log_level::warn, "write batch refused; committing it in parts",
              {{"fault", std::string_view(to_string(failure.fault))},
               {"error", std::string_view(failure.why)},
               {"entities", static_cast<int64_t>(refused.members.size())}});
  bisect(
    std::move(refused), st.settings.split_commits_max,
    [&](prepared_batch& part) {
      auto part_failure = try_commit(st, part);
      if (!part_failure) {
        acknowledge(self, part);
        return part_outcome::done;
      }
      failure = std::move(*part_failure);
      return failure.fault == store_fault::transient ? part_outcome::store_trouble : part_outcome::refused;
    },
    halve, [&](prepared_batch&& part) { give_up(self, part, failure.fault, failure.why); },
    [&](std::vector<prepared_batch>&& rest) {
      std::vector<entity_write> writes;
      for (auto& part : rest)
        for (auto& write : part.writes) writes.push_back(std::move(write));
      retry_later(self, prepare_batch(std::move(writes)), failure);
    });
}

void commit(writer_pointer self, prepared_batch batch) {
  auto& st = self->state;
  auto failure = try_commit(st, batch);
  if (!failure) {
    st.attempts = 0;
    st.backoff = std::chrono::milliseconds{0};
    acknowledge(self, batch);
  } else if (failure->fault == store_fault::transient) {
    retry_later(self, std::move(batch), *failure);
  } else {
    commit_apart(self, std::move(batch), std::move(*failure));
  }
}

void after_commit(writer_pointer self) {
  schedule_flush(self);
  finish_stop_if_done(self);
}

void sweep_idempotency(writer_pointer self) {
  auto& st = self->state;
  auto before = now_us() - st.settings.idempotency_retention.count();
  try {
    auto deleted = st.db.get().delete_idempotency_before(before);
    if (deleted > 0)
      log_event(log_level::info, "expired idempotency keys deleted",
                {{"count", static_cast<int64_t>(deleted)}});
  } catch (const store_error& e) {
    count_error(st, e.fault());
    if (e.fault() == store_fault::transient) set_reachable(st, false);
    log_event(log_level::warn, "idempotency sweep failed", {{"error", std::string_view(e.what())}});
  }
}

void sweep_expired_auth(writer_pointer self) {
  auto& st = self->state;
  try {
    auto deleted = st.db.get().delete_expired_auth(now_us());
    if (deleted > 0)
      log_event(log_level::info, "expired auth rows deleted", {{"count", static_cast<int64_t>(deleted)}});
  } catch (const store_error& e) {
    count_error(st, e.fault());
    if (e.fault() == store_fault::transient) set_reachable(st, false);
    log_event(log_level::warn, "auth sweep failed", {{"error", std::string_view(e.what())}});
  }
}

void sweep_webhook_events(writer_pointer self) {
  auto& st = self->state;
  auto before = now_us() - st.settings.webhook_retention.count();
  try {
    auto deleted = st.db.get().delete_webhook_events_before(before);
    if (deleted > 0)
      log_event(log_level::info, "expired webhook dedupe records deleted",
                {{"count", static_cast<int64_t>(deleted)}});
  } catch (const store_error& e) {
    count_error(st, e.fault());
    if (e.fault() == store_fault::transient) set_reachable(st, false);
    log_event(log_level::warn, "webhook sweep failed", {{"error", std::string_view(e.what())}});
  }
}

} // namespace

writer_actor::behavior_type writer_behavior(writer_pointer self, store_factory make_store,
                                            writer_settings settings, store_health* health,
                                            metrics* process_metrics) {
  auto& st = self->state;
  st.db = store_connection{std::move(make_store)};
  st.settings = settings;
  st.queue = write_queue{settings.batch_records_max};
  st.health = health;
  st.process_metrics = process_metrics;
  st.last_sweep = self->clock().now();
  st.last_auth_sweep = st.last_sweep;
  st.last_webhook_sweep = st.last_sweep;
  self->delayed_send(self, settings.health_check_interval, health_tick_atom_v);
  return {
    [self](write_atom, entity_write& write) {
      auto& st = self->state;
      if (!st.queue.push(std::move(write))) {
        refuse(self, write);  // its epoch was fenced: push left it untouched
        return;
      }
      st.process_metrics->backlog_records.Set(
        static_cast<double>(st.health->backlog_records.load(std::memory_order_relaxed)));
      schedule_flush(self);
    },
    [self](flush_atom) {
      auto& st = self->state;
      st.flush_outstanding = false;
      if (!st.failed && !st.queue.empty()) commit(self, st.queue.take_batch());
      after_commit(self);
    },
    [self](retry_atom, uint64_t generation) {
      auto& st = self->state;
      if (!st.failed || generation != st.retry_generation) return;  // stale timer
      auto batch = std::move(*st.failed);
      st.failed.reset();
      commit(self, std::move(batch));
      after_commit(self);
    },
    [self](health_tick_atom) {
      auto& st = self->state;
      if (!st.health->reachable.load() && store_answers(st)) {
        set_reachable(st, true);
        // Don't wait out the back-off once the store is back.
        if (st.failed) self->send(self, retry_atom_v, st.retry_generation);
      }
      auto now = self->clock().now();
      if (now - st.last_sweep >= st.settings.idempotency_sweep_interval) {
        st.last_sweep = now;
        sweep_idempotency(self);
      }
      if (now - st.last_auth_sweep >= st.settings.auth_sweep_interval) {
        st.last_auth_sweep = now;
        sweep_expired_auth(self);
      }
      if (now - st.last_webhook_sweep >= st.settings.webhook_sweep_interval) {
        st.last_webhook_sweep = now;
        sweep_webhook_events(self);
      }
      self->delayed_send(self, st.settings.health_check_interval, health_tick_atom_v);
    },
    [self](flush_and_stop_atom, int64_t deadline_ms) -> caf::result<bool> {
      auto& st = self->state;
      if (nothing_pending(st)) {
        self->quit();
        return true;
      }
      st.stop_promise = self->make_response_promise<bool>();
      self->delayed_send(self, std::chrono::milliseconds(deadline_ms), flush_deadline_atom_v);
      schedule_flush(self);
      return *st.stop_promise;
    },
    [self](flush_deadline_atom) {
      auto& st = self->state;
      if (!st.stop_promise) return;
      log_event(log_level::error, "shutdown flush deadline passed; writes left uncommitted",
                {{"records", st.queue.queued_records()
                               + (st.failed ? st.failed->records_received : 0)}});
      st.stop_promise->deliver(false);
      st.stop_promise.reset();
      self->quit();
    },
  };
}

writer_actor spawn_writer(caf::actor_system& system, store_factory make_store,
                          writer_settings settings, store_health& health,
                          metrics& process_metrics) {
  return system.spawn<caf::detached>(writer_behavior, std::move(make_store), settings, &health,
                                     &process_metrics);
}

} // namespace tally
