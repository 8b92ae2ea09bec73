#include "persistence/reader.hpp"

#include <utility>

#include "caf/all.hpp"

#include "protocols/log.hpp"
#include "protocols/store_health.hpp"

namespace tally {

namespace {

using reader_pointer = reader_actor::stateful_pointer<reader_state>;

/// Attempts per read: the first may find a connection broken while idle.
constexpr int reader_attempts_max = 2;

/// Logs a failed read once per outage and names the answer to give.
caf::error report_failure(reader_state& st, const char* what, const store_error& e) {
  if (e.fault() == store_fault::transient && st.health->reachable.exchange(false))
    log_event(log_level::warn, "store unreachable", {{"during", std::string_view(what)},
                                                     {"error", std::string_view(e.what())}});
  else if (e.fault() != store_fault::transient)
    log_event(log_level::error, "store read failed", {{"during", std::string_view(what)},
                                                      {"error", std::string_view(e.what())}});
  return caf::make_error(error_code::store_unavailable);
}

/// Runs one store call; the store's view of reachability follows the outcome.
/// Returns the error to answer with, or none.
///
/// A transient failure is retried once at once: an idle connection is found
/// broken only when used (e.g. after Postgres restarted), and the store
/// reconnects on the next call. Every read here is safe to repeat (a repeated
/// activation only bumps the owner epoch once more).
template <class F>
caf::error guarded(reader_pointer self, const char* what, F&& call) {
  auto& st = self->state;
  for (int attempt = 1;; ++attempt) {
    try {
      call(st.db.get());
      st.health->reachable.store(true);
      return caf::none;
    } catch (const store_error& e) {
      if (e.fault() == store_fault::transient && attempt < reader_attempts_max) continue;
      return report_failure(st, what, e);
    } catch (const std::exception& e) {
      log_event(log_level::error, "store read failed", {{"during", std::string_view(what)},
                                                        {"error", std::string_view(e.what())}});
      return caf::make_error(error_code::store_unavailable);
    }
  }
}

} // namespace

reader_actor::behavior_type reader_behavior(reader_pointer self, store_factory make_store,
                                            store_health* health) {
  self->state.db = store_connection{std::move(make_store)};
  self->state.health = health;
  return {
    [self](load_atom, const uuid& id, uint64_t keys_max,
           timestamp_us since) -> caf::result<user_snapshot> {
      std::optional<user_snapshot> snapshot;
      if (auto err = guarded(self, "activate", [&](store& db) {
            snapshot = db.activate_user(id, static_cast<size_t>(keys_max), since);
          }))
        return err;
      if (!snapshot) return caf::make_error(error_code::user_not_found);
      return std::move(*snapshot);
    },
    [self](ledger_atom, const uuid& id, const ledger_query& query, ledger_reply& done) {
      ledger_page page;
      if (guarded(self, "ledger", [&](store& db) { page = db.read_ledger(id, query); }))
        done(failure{error_code::store_unavailable, "the store is unavailable; retry",
                     reader_retry_after_s});
      else
        done(std::move(page));
    },
    [self](lookup_atom, const uuid& id, const std::string& key,
           timestamp_us since) -> caf::result<idempotency_lookup> {
      idempotency_lookup found;
      if (auto err = guarded(self, "idempotency lookup", [&](store& db) {
            found.record = db.find_idempotency(id, key, since);
          }))
        return err;
      return found;
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
  };
}

reader_actor spawn_reader(caf::actor_system& system, store_factory make_store, store_health& health) {
  return system.spawn<caf::detached>(reader_behavior, std::move(make_store), &health);
}

} // namespace tally
