#include "persistence/reader.hpp"

#include <algorithm>
#include <cstddef>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

#include "caf/all.hpp"

#include "persistence/bisect.hpp"

#include "protocols/log.hpp"
#include "protocols/store_health.hpp"

namespace tally {

namespace {

using reader_pointer = reader_actor::stateful_pointer<reader_state>;

/// Attempts per read: the first may find a connection broken while idle.
constexpr int reader_attempts_max = 2;

/// Logs a failed read once per outage.
void report_failure(reader_state& st, const char* what, const store_error& e) {
  if (e.fault() == store_fault::transient && st.health->reachable.exchange(false))
    log_event(log_level::warn, "store unreachable", {{"during", std::string_view(what)},
                                                     {"error", std::string_view(e.what())}});
  else if (e.fault() != store_fault::transient)
    log_event(log_level::error, "store read failed", {{"during", std::string_view(what)},
                                                      {"error", std::string_view(e.what())}});
}

/// How a store call ended, after its retry. `fenced`: cluster mode, this
/// node does not hold the lease of the activated entity's shard.
enum class read_outcome : uint8_t { ok, transient, permanent, fenced };

/// Runs one store call; the store's view of reachability follows the outcome.
///
/// A transient failure is retried once at once: an idle connection is found
/// broken only when used (e.g. after Postgres restarted), and the store
/// reconnects on the next call. Every read here is safe to repeat (a repeated
/// activation only bumps the owner epoch once more).
template <class F>
read_outcome attempt(reader_pointer self, const char* what, F&& call) {
  auto& st = self->state;
  for (int attempt = 1;; ++attempt) {
    try {
      call(st.db.get());
      st.health->reachable.store(true);
      return read_outcome::ok;
    } catch (const store_error& e) {
      if (e.fault() == store_fault::fenced) return read_outcome::fenced;
      if (e.fault() == store_fault::transient && attempt < reader_attempts_max) continue;
      report_failure(st, what, e);
      return e.fault() == store_fault::transient ? read_outcome::transient : read_outcome::permanent;
    } catch (const std::exception& e) {
      log_event(log_level::error, "store read failed", {{"during", std::string_view(what)},
                                                        {"error", std::string_view(e.what())}});
      return read_outcome::permanent;
    }
  }
}

/// attempt(), as the error to answer with, or none.
template <class F>
caf::error guarded(reader_pointer self, const char* what, F&& call) {
  auto outcome = attempt(self, what, std::forward<F>(call));
  if (outcome == read_outcome::ok) return caf::none;
  if (outcome == read_outcome::fenced) return caf::make_error(error_code::shard_unavailable);
  return caf::make_error(error_code::store_unavailable);
}

/// Keeps exactly one flush in the mailbox while anything is queued.
void schedule_flush(reader_pointer self) {
  auto& st = self->state;
  if (st.flush_outstanding || (st.activations.empty() && st.lookups.empty() && st.probes.empty()))
    return;
  st.flush_outstanding = true;
  self->send(self, flush_atom_v);
}

bool queue_full(const reader_state& st) {
  return st.activations.size() + st.lookups.size() + st.probes.size() >= reader_queue_max;
}

/// Moves up to `max` requests from the front of `queue`.
template <class T>
std::vector<T> take(std::deque<T>& queue, size_t max) {
  auto count = std::min(queue.size(), max);
  std::vector<T> taken(std::make_move_iterator(queue.begin()),
                       std::make_move_iterator(queue.begin() + static_cast<std::ptrdiff_t>(count)));
  queue.erase(queue.begin(), queue.begin() + static_cast<std::ptrdiff_t>(count));
  return taken;
}

void answer(queued_activation& queued, std::optional<user_snapshot>& snapshot) {
  if (snapshot)
    queued.promise.deliver(std::move(*snapshot));
  else
    queued.promise.deliver(caf::make_error(error_code::user_not_found));
}

void answer(queued_lookup& queued, std::optional<idempotency_record>& record) {
  queued.promise.deliver(idempotency_lookup{std::move(record)});
}

void answer(queued_probe& queued, bool known) {
  queued.promise.deliver(known);
}

/// Answers every requester in `part` with store_unavailable.
template <class Queued>
void answer_unavailable(std::vector<Queued>& part) {
  for (auto& queued : part) queued.promise.deliver(caf::make_error(error_code::store_unavailable));
}

/// Serves one batch of `queue` with `batch_call` (one store call for all).
/// If the batch fails for good (permanent), it is read in halves, and
/// halves of halves (bisect.hpp), so a bad row fails only its own
/// requester; after a transient failure (already retried once) every
/// requester not yet answered gets store_unavailable.
template <class Queued, class Batch>
void serve(reader_pointer self, std::deque<Queued>& queue, size_t batch_max, const char* what,
           Batch batch_call) {
  if (queue.empty()) return;
  auto batch = take(queue, batch_max);
  auto try_part = [&](std::vector<Queued>& part) {
    decltype(batch_call(std::declval<store&>(), part)) found;
    auto outcome = attempt(self, what, [&](store& db) { found = batch_call(db, part); });
    if (outcome == read_outcome::ok && found.size() == part.size()) {
      for (size_t i = 0; i < part.size(); ++i) answer(part[i], found[i]);
      return part_outcome::done;
    }
    // Cluster mode: the one requester whose shard this node does not hold
    // (a bigger part is split like any refused batch until it is alone).
    if (outcome == read_outcome::fenced && part.size() == 1) {
      part.front().promise.deliver(caf::make_error(error_code::shard_unavailable));
      return part_outcome::done;
    }
    return outcome == read_outcome::transient ? part_outcome::store_trouble : part_outcome::refused;
  };
  switch (try_part(batch)) {
    case part_outcome::done:
      return;
    case part_outcome::store_trouble:
      answer_unavailable(batch);
      return;
    case part_outcome::refused:
      bisect(
        std::move(batch), reader_split_calls_max, try_part, halve_in_order<Queued>,
        [](std::vector<Queued>&& part) { answer_unavailable(part); },
        [](std::vector<std::vector<Queued>>&& rest) {
          for (auto& part : rest) answer_unavailable(part);
        });
  }
}

/// Each snapshot's active generations, in one more read for the batch.
void attach_active_generations(store& db, std::vector<std::optional<user_snapshot>>& loaded) {
  std::vector<uuid> users;
  for (const auto& snapshot : loaded)
    if (snapshot) users.push_back(snapshot->user.id);
  if (users.empty()) return;
  for (auto& row : db.find_active_generations(users)) {
    for (auto& snapshot : loaded) {
      if (snapshot && snapshot->user.id == row.user_id) {
        snapshot->active_generations.push_back(std::move(row));
        break;
      }
    }
  }
}

void serve_activations(reader_pointer self) {
  serve(self, self->state.activations, reader_activation_batch_max, "activate",
        [](store& db, const std::vector<queued_activation>& batch) {
          std::vector<activation_request> requests;
          requests.reserve(batch.size());
          for (const auto& queued : batch) requests.push_back(queued.request);
          auto loaded = db.activate_users(requests);
          attach_active_generations(db, loaded);
          return loaded;
        });
}

void serve_lookups(reader_pointer self) {
  serve(self, self->state.lookups, reader_lookup_batch_max, "idempotency lookup",
        [](store& db, const std::vector<queued_lookup>& batch) {
          std::vector<idempotency_probe> probes;
          probes.reserve(batch.size());
          for (const auto& queued : batch) probes.push_back(queued.probe);
          return db.find_idempotency_many(probes);
        });
}

void serve_probes(reader_pointer self) {
  serve(self, self->state.probes, reader_probe_batch_max, "identity probe",
        [](store& db, const std::vector<queued_probe>& batch) {
          std::vector<uuid> ids;
          ids.reserve(batch.size());
          for (const auto& queued : batch) ids.push_back(queued.identity);
          return db.known_identities(ids);
        });
}

} // namespace

reader_actor::behavior_type reader_behavior(reader_pointer self, store_factory make_store,
                                            store_health* health) {
  self->state.db = store_connection{std::move(make_store)};
  self->state.health = health;
  return {
    [self](load_atom, const uuid& id, uint64_t keys_max,
           timestamp_us since) -> caf::result<user_snapshot> {
      auto& st = self->state;
      if (queue_full(st)) return caf::make_error(error_code::overloaded);
      st.activations.push_back(queued_activation{
        activation_request{id, static_cast<size_t>(keys_max), since},
        self->make_response_promise<user_snapshot>()});
      schedule_flush(self);
      return st.activations.back().promise;
    },
    [self](ledger_atom, const uuid& id, const ledger_query& query, completion& waiting) {
      auto done = reply_for<ledger_request>(waiting);
      ledger_page page;
      if (guarded(self, "ledger", [&](store& db) { page = db.read_ledger(id, query); }))
        done(failure{error_code::store_unavailable, "the store is unavailable; retry",
                     reader_retry_after_s});
      else
        done(std::move(page));
    },
    [self](lookup_atom, const uuid& id, const std::string& key,
           timestamp_us since) -> caf::result<idempotency_lookup> {
      auto& st = self->state;
      if (queue_full(st)) return caf::make_error(error_code::overloaded);
      st.lookups.push_back(
        queued_lookup{idempotency_probe{id, key, since}, self->make_response_promise<idempotency_lookup>()});
      schedule_flush(self);
      return st.lookups.back().promise;
    },
    [self](load_identity_atom, const uuid& id, identity_kind kind, const std::string& value,
           timestamp_us now) -> caf::result<identity_snapshot> {
      identity_snapshot snapshot;
      if (auto err = guarded(self, "activate identity", [&](store& db) {
            snapshot = db.activate_identity(id, kind, value, now);
          }))
        return err;
      return snapshot;
    },
    [self](probe_identity_atom, const uuid& id) -> caf::result<bool> {
      auto& st = self->state;
      if (queue_full(st)) return caf::make_error(error_code::overloaded);
      st.probes.push_back(queued_probe{id, self->make_response_promise<bool>()});
      schedule_flush(self);
      return st.probes.back().promise;
    },
    [self](find_link_atom, const std::string& token_hash) -> caf::result<magic_link_lookup> {
      magic_link_lookup found;
      if (auto err = guarded(self, "magic link lookup",
                             [&](store& db) { found.link = db.find_magic_link(token_hash); }))
        return err;
      return found;
    },
    [self](find_session_atom, const uuid& user,
           const uuid& session) -> caf::result<session_lookup> {
      session_lookup found;
      if (auto err = guarded(self, "session lookup",
                             [&](store& db) { found.session = db.find_session(user, session); }))
        return err;
      return found;
    },
    [self](find_refresh_atom, const std::string& token_hash) -> caf::result<refresh_token_lookup> {
      refresh_token_lookup found;
      if (auto err = guarded(self, "refresh token lookup",
                             [&](store& db) { found.token = db.find_refresh_token(token_hash); }))
        return err;
      return found;
    },
    [self](generation_atom, const uuid& user, const uuid& generation, completion& waiting) {
      auto done = reply_for<get_generation_request>(waiting);
      std::optional<generation_row> found;
      if (guarded(self, "generation", [&](store& db) { found = db.find_generation(user, generation); }))
        done(failure{error_code::store_unavailable, "the store is unavailable; retry", reader_retry_after_s});
      else if (!found)
        done(failure{error_code::generation_not_found, "no such generation", 0});
      else
        done(std::move(*found));
    },
    [self](generations_atom, const uuid& user, const generation_query& query, completion& waiting) {
      auto done = reply_for<list_generations_request>(waiting);
      generation_page page;
      if (guarded(self, "generations", [&](store& db) { page = db.read_generations(user, query); }))
        done(failure{error_code::store_unavailable, "the store is unavailable; retry", reader_retry_after_s});
      else
        done(std::move(page));
    },
    [self](load_tenant_atom, const uuid& id) -> caf::result<tenant_lookup> {
      tenant_lookup found;
      if (auto err = guarded(self, "activate tenant",
                             [&](store& db) { found.tenant = db.activate_tenant(id); }))
        return err;
      return found;
    },
    [self](load_subdomain_atom, const std::string& name) -> caf::result<subdomain_lookup> {
      subdomain_lookup found;
      if (auto err = guarded(self, "subdomain lookup",
                             [&](store& db) { found.holder = db.find_subdomain_holder(name); }))
        return err;
      return found;
    },
    [self](find_memberships_atom, const uuid& user) -> caf::result<membership_list> {
      membership_list found;
      if (auto err = guarded(self, "memberships lookup",
                             [&](store& db) { found.tenants = db.find_memberships(user); }))
        return err;
      return found;
    },
    [self](find_webhook_atom, const uuid& id) -> caf::result<webhook_event_lookup> {
      webhook_event_lookup found;
      if (auto err = guarded(self, "webhook event lookup",
                             [&](store& db) { found.row = db.find_webhook_event(id); }))
        return err;
      return found;
    },
    [self](find_payment_atom, const uuid& id) -> caf::result<payment_lookup> {
      payment_lookup found;
      if (auto err = guarded(self, "payment lookup",
                             [&](store& db) { found.payment = db.find_payment(id); }))
        return err;
      return found;
    },
    [self](flush_atom) {
      auto& st = self->state;
      st.flush_outstanding = false;
      // One batch of each kind per flush: other reads (ledger pages,
      // sessions) queued meanwhile get their turn between batches.
      serve_activations(self);
      serve_lookups(self);
      serve_probes(self);
      schedule_flush(self);
    },
  };
}

reader_actor spawn_reader(caf::actor_system& system, store_factory make_store, store_health& health) {
  return system.spawn<caf::detached>(reader_behavior, std::move(make_store), &health);
}

} // namespace tally
