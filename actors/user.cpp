#include "actors/user.hpp"

#include <optional>
#include <utility>

#include "caf/all.hpp"

#include "actors/credit_decisions.hpp"
#include "protocols/codec.hpp"
#include "protocols/log.hpp"

namespace tally {

namespace {

using user_pointer = user_actor::stateful_pointer<user_state>;
using phase = user_state::phase;

// -- what each mutation kind contributes --------------------------------------

struct charge_kind {
  using command = charge_command;
  using result = charge_result;
  using reply_type = charge_reply;
  static constexpr int status = charge_status_created;

  static outcome<accepted_change> decide(const balance& current, const command& cmd) {
    return decide_charge(current, cmd.amount);
  }
  static result make_result(const accepted_change& change, const uuid& charge_id) {
    return {charge_id, change.amount, change.after.available};
  }
  /// A charge's ledger entry names the charge (API.md, ledger `reference`).
  static std::string reference(const command&, const uuid& charge_id) { return to_string(charge_id); }
  static std::string description(const command& cmd) { return cmd.description; }
  static std::optional<result> decode(const std::string& bytes) { return decode_charge_result(bytes); }
  static uncommitted_write::charge_waiting wait(reply_type done, mutation_reply<result> answer) {
    return {std::move(done), std::move(answer)};
  }
};

struct credit_kind {
  using command = credit_command;
  using result = credit_result;
  using reply_type = credit_reply;
  static constexpr int status = credit_status_ok;

  static outcome<accepted_change> decide(const balance& current, const command& cmd) {
    return decide_credit(current, cmd.amount);
  }
  static result make_result(const accepted_change& change, const uuid&) {
    return {change.after.available, change.after.reserved};
  }
  /// Grants and debits name the admin's reason.
  static std::string reference(const command& cmd, const uuid&) { return cmd.reason; }
  static std::string description(const command&) { return {}; }
  static std::optional<result> decode(const std::string& bytes) { return decode_credit_result(bytes); }
  static uncommitted_write::credit_waiting wait(reply_type done, mutation_reply<result> answer) {
    return {std::move(done), std::move(answer)};
  }
};

// -- small helpers -------------------------------------------------------------

failure retire_failure(const user_state& st) {
  if (st.retire_code == error_code::user_not_found)
    return {error_code::user_not_found, "user not found", 0};
  return {error_code::store_unavailable, "the store is unavailable; retry", user_retry_after_s};
}

failure overloaded(const char* why) {
  return {error_code::overloaded, why, user_retry_after_s};
}

bool busy(const user_state& st) {
  return !st.uncommitted.empty() || st.lookups_in_flight > 0;
}

idempotency_cache& keys_of(user_state& st) {
  if (!st.keys) st.keys = std::make_unique<idempotency_cache>(st.context->idempotency_cached_max);
  return *st.keys;
}

bool keys_maybe_in_store(const user_state& st) {
  return st.older_keys_in_store || (st.keys && st.keys->evicted_any());
}

std::optional<known_key> known_of(const user_state& st, const std::string& key) {
  if (!st.keys) return std::nullopt;
  const auto* found = st.keys->find(key);
  if (found == nullptr) return std::nullopt;
  using state = idempotency_cache::key_state;
  // With ack=memory the client already has its 2xx, so a retry replays it.
  bool replayable = found->state == state::committed
                    || (found->state == state::pending && st.context->ack == ack_mode::memory);
  return known_key{found->request_digest, replayable, found->state == state::looking_up};
}

/// Retirement handshake: only when no lookup can still come back.
void ask_retirement(user_pointer self) {
  auto& st = self->state;
  if (st.lookups_in_flight == 0)
    self->send(st.registry, idle_atom_v, st.id, st.activation, st.handled);
}

void begin_registry_message(user_pointer self) {
  ++self->state.handled;
}

/// A retiring user repeats its request after every registry message: the
/// registry accepts once nothing it forwarded is still in transit.
void end_registry_message(user_pointer self) {
  if (self->state.current == phase::retiring) ask_retirement(self);
}

void fail_waiting(uncommitted_write& write, const failure& why) {
  std::visit(
    [&](auto& waiting) {
      if constexpr (!std::is_same_v<std::decay_t<decltype(waiting)>, std::monostate>)
        waiting.done(why);
    },
    write.waiting);
}

void deliver_waiting(uncommitted_write& write) {
  std::visit(
    [](auto& waiting) {
      if constexpr (!std::is_same_v<std::decay_t<decltype(waiting)>, std::monostate>)
        waiting.done(std::move(waiting.answer));
    },
    write.waiting);
}

/// Fails everything owed and hands the actor back to the registry.
void retire(user_pointer self, error_code code) {
  auto& st = self->state;
  st.current = phase::retiring;
  st.retire_code = code;
  auto why = retire_failure(st);
  for (auto& write : st.uncommitted) fail_waiting(write, why);
  st.uncommitted.clear();
  st.keys.reset();
  ask_retirement(self);
}

// -- activation ------------------------------------------------------------------

void on_loaded(user_pointer self, user_snapshot& snapshot) {
  auto& st = self->state;
  st.current = phase::active;
  st.epoch = snapshot.owner_epoch;
  st.speculative = snapshot.bal;
  st.committed = snapshot.bal;
  st.ledger_seq = snapshot.ledger_seq;
  st.older_keys_in_store = snapshot.older_idempotency_in_store;
  if (!snapshot.recent_idempotency.empty()) {
    auto& keys = keys_of(st);
    // The store gives newest first; the cache evicts oldest first.
    for (auto i = snapshot.recent_idempotency.rbegin(); i != snapshot.recent_idempotency.rend(); ++i)
      keys.add_committed(i->key, std::move(i->request_digest), i->status, std::move(i->response));
  }
}

void on_load_failed(user_pointer self, const caf::error& err) {
  auto code = to_error_code(err, error_code::store_unavailable);
  retire(self, code == error_code::user_not_found ? code : error_code::store_unavailable);
}

// -- mutations -----------------------------------------------------------------

/// Answers a command whose key is known; `stored_response` is the stored
/// result (used for a replay).
template <class Kind>
void answer_known(const user_state& st, idempotency_verdict verdict,
                  const std::string& stored_response, typename Kind::reply_type& done) {
  switch (verdict) {
    case idempotency_verdict::replay: {
      auto stored = Kind::decode(stored_response);
      if (!stored) {
        log_event(log_level::error, "stored idempotent response unreadable",
                  {{"user_id", std::string_view(to_string(st.id))}});
        done(failure{error_code::internal, "stored response unreadable", 0});
        return;
      }
      done(mutation_reply<typename Kind::result>{*stored, true});
      return;
    }
    case idempotency_verdict::reused:
      done(failure{error_code::idempotency_key_reused,
                   "this Idempotency-Key was used with a different request", 0});
      return;
    case idempotency_verdict::in_use:
      done(failure{error_code::idempotency_key_in_use,
                   "a request with this Idempotency-Key is still in flight", 0});
      return;
    case idempotency_verdict::proceed: break;
  }
}

/// Admission, decision, in-memory apply, records to the writer.
template <class Kind>
void run_mutation(user_pointer self, const typename Kind::command& cmd,
                  typename Kind::reply_type& done) {
  auto& st = self->state;
  const auto& context = *st.context;
  if (context.health->backlog_full()) {
    done(overloaded("the write-behind backlog is full"));
    return;
  }
  // The window bounds replies waiting for a commit (CAF-0.17.md §4). With
  // ack=memory nothing waits; the writer backlog bounds the rest.
  if (context.ack == ack_mode::commit && st.uncommitted.size() >= context.pending_replies_max) {
    done(overloaded("too many uncommitted requests for this user"));
    return;
  }
  auto decision = Kind::decide(st.speculative, cmd);
  if (!decision) {
    done(decision.error());  // not stored: a retry with the same key re-evaluates
    return;
  }
  const auto& change = decision.value();
  auto now = now_us();
  auto subject_id = random_uuid();
  auto result = Kind::make_result(change, subject_id);
  st.speculative = change.after;
  ++st.ledger_seq;

  entity_write write;
  write.entity = st.id;
  write.epoch = st.epoch;
  write.token = ++st.last_token;
  write.listener = caf::actor_cast<write_listener>(self);
  write.records.ledger.push_back(
    ledger_write{st.id,
                 make_ledger_entry(change, random_uuid(), st.ledger_seq,
                                   Kind::reference(cmd, subject_id), now),
                 Kind::description(cmd)});
  write.records.balances.push_back(balance_write{st.id, st.epoch, change.after, st.ledger_seq, now});

  uncommitted_write pending;
  pending.token = write.token;
  pending.after = change.after;
  const auto& idem = cmd.idem;
  if (!idem.key.empty()) {
    auto response = encode(result);
    write.records.idempotency.push_back(
      idempotency_record{st.id, idem.key, idem.request_digest, Kind::status, response, now});
    keys_of(st).add_pending(idem.key, idem.request_digest, Kind::status, std::move(response));
    pending.idempotency_key = idem.key;
  }
  context.health->backlog_records.fetch_add(static_cast<int64_t>(write.records.record_count()),
                                            std::memory_order_relaxed);
  self->send(context.writer, write_atom_v, std::move(write));

  mutation_reply<typename Kind::result> answer{result, false};
  if (context.ack == ack_mode::memory)
    done(std::move(answer));
  else
    pending.waiting = Kind::wait(std::move(done), std::move(answer));
  st.uncommitted.push_back(std::move(pending));
}

/// The key is not in memory but may be in the store: ask a reader, and let
/// the key count as in flight meanwhile (a concurrent duplicate gets 409).
template <class Kind>
void look_up_then_run(user_pointer self, typename Kind::command cmd,
                      typename Kind::reply_type done) {
  auto& st = self->state;
  keys_of(st).add_lookup(cmd.idem.key, cmd.idem.request_digest);
  ++st.lookups_in_flight;
  auto since = now_us() - st.context->idempotency_retention.count();
  auto key = cmd.idem.key;
  auto finish_lookup = [self](const std::string& key) {
    auto& st = self->state;
    --st.lookups_in_flight;
    if (st.keys) st.keys->remove_uncommitted(key);
  };
  self->request(st.reader, caf::infinite, lookup_atom_v, st.id, key, since)
    .then(
      [self, finish_lookup, cmd, done](idempotency_lookup& found) mutable {
        auto& st = self->state;
        finish_lookup(cmd.idem.key);
        if (st.current != phase::active) {
          done(retire_failure(st));
          ask_retirement(self);
          return;
        }
        if (!found.record) {
          run_mutation<Kind>(self, cmd, done);
          return;
        }
        const auto& record = *found.record;
        known_key known{record.request_digest, true};  // in the store: committed
        answer_known<Kind>(st, decide_idempotency(&known, cmd.idem.request_digest),
                           record.response, done);
        keys_of(st).add_committed(record.key, record.request_digest, record.status,
                                  record.response);
      },
      [self, finish_lookup, key, done](caf::error&) mutable {
        finish_lookup(key);
        done(failure{error_code::store_unavailable, "the store is unavailable; retry",
                     user_retry_after_s});
        if (self->state.current == phase::retiring) ask_retirement(self);
      });
}

template <class Kind>
void on_mutation(user_pointer self, typename Kind::command& cmd, typename Kind::reply_type& done) {
  auto& st = self->state;
  if (st.current != phase::active) {
    done(retire_failure(st));
    return;
  }
  const auto& idem = cmd.idem;
  if (!idem.key.empty()) {
    auto known = known_of(st, idem.key);
    auto verdict = decide_idempotency(known ? &*known : nullptr, idem.request_digest);
    if (verdict != idempotency_verdict::proceed) {
      answer_known<Kind>(st, verdict, st.keys->find(idem.key)->response, done);
      return;
    }
    if (keys_maybe_in_store(st)) {
      look_up_then_run<Kind>(self, std::move(cmd), std::move(done));
      return;
    }
  }
  run_mutation<Kind>(self, cmd, done);
}

// -- writer reports --------------------------------------------------------------

void on_committed(user_pointer self, uint64_t token) {
  auto& st = self->state;
  if (st.current != phase::active) return;
  size_t done_count = 0;
  for (auto& write : st.uncommitted) {
    if (write.token > token) break;
    st.committed = write.after;
    if (!write.idempotency_key.empty() && st.keys) st.keys->mark_committed(write.idempotency_key);
    deliver_waiting(write);
    ++done_count;
  }
  st.uncommitted.erase(st.uncommitted.begin(),
                       st.uncommitted.begin() + static_cast<std::ptrdiff_t>(done_count));
}

void on_write_failed(user_pointer self, uint64_t token) {
  auto& st = self->state;
  if (st.current != phase::active) return;
  log_event(log_level::warn, "write failed; user reloads from the store",
            {{"user_id", std::string_view(to_string(st.id))},
             {"token", static_cast<int64_t>(token)},
             {"waiting", static_cast<int64_t>(st.uncommitted.size())}});
  retire(self, error_code::store_unavailable);
}

void on_idle_query(user_pointer self) {
  auto& st = self->state;
  if (st.current == phase::retiring) {
    ask_retirement(self);
    return;
  }
  // Busy (uncommitted writes, a lookup in flight): stay; the registry asks
  // again on a later sweep. Otherwise offer to go; the registry declines if
  // a command is still on its way here.
  if (st.current == phase::active && !busy(st))
    self->send(st.registry, idle_atom_v, st.id, st.activation, st.handled);
}

} // namespace

user_actor::behavior_type user_behavior(user_pointer self, uuid id, uint64_t activation,
                                        registry_actor registry, reader_actor reader,
                                        const user_context* context) {
  auto& st = self->state;
  st.id = id;
  st.activation = activation;
  st.context = context;
  st.registry = std::move(registry);
  st.reader = std::move(reader);
  auto since = now_us() - context->idempotency_retention.count();
  // await: every other message waits in the mailbox until the snapshot is in.
  // No finite timeout: CAF 0.17 keeps each one in the clock until it expires.
  self
    ->request(st.reader, caf::infinite, load_atom_v, id,
              static_cast<uint64_t>(context->idempotency_cached_max), since)
    .await([self](user_snapshot& snapshot) { on_loaded(self, snapshot); },
           [self](caf::error& err) { on_load_failed(self, err); });
  return {
    [self](balance_atom, balance_reply& done) {
      begin_registry_message(self);
      auto& st = self->state;
      if (st.current == phase::active)
        done(st.committed);
      else
        done(retire_failure(st));
      end_registry_message(self);
    },
    [self](ledger_atom, ledger_query& query, ledger_reply& done) {
      begin_registry_message(self);
      auto& st = self->state;
      // The reader answers the reply directly; the page never passes here.
      if (st.current == phase::active)
        self->send(st.reader, ledger_atom_v, st.id, std::move(query), std::move(done));
      else
        done(retire_failure(st));
      end_registry_message(self);
    },
    [self](charge_atom, charge_command& cmd, charge_reply& done) {
      begin_registry_message(self);
      on_mutation<charge_kind>(self, cmd, done);
      end_registry_message(self);
    },
    [self](credit_atom, credit_command& cmd, credit_reply& done) {
      begin_registry_message(self);
      on_mutation<credit_kind>(self, cmd, done);
      end_registry_message(self);
    },
    [self](committed_atom, uint64_t token) { on_committed(self, token); },
    [self](write_failed_atom, uint64_t token) { on_write_failed(self, token); },
    [self](idle_query_atom) { on_idle_query(self); },
    [self](sync_atom) {
      begin_registry_message(self);
      auto& st = self->state;
      self->send(st.registry, synced_atom_v, st.id, st.activation);
      end_registry_message(self);
    },
    [self](passivate_atom) { self->quit(); },
  };
}

} // namespace tally
