#include "actors/user.hpp"
#include "actors/load_refusal.hpp"

#include <optional>
#include <utility>

#include "caf/all.hpp"

#include "actors/credit_decisions.hpp"
#include "actors/lifecycle.hpp"
#include "actors/user_generations.hpp"
#include "actors/user_sessions.hpp"
#include "actors/user_topups.hpp"
#include "protocols/codec.hpp"
#include "protocols/invariant.hpp"
#include "protocols/log.hpp"

namespace tally {

void user_profile::assign(const user_row& row) {
  id_ = row.id;
  created_at_ = row.created_at;
  email_size_ = static_cast<uint32_t>(row.email.size());
  phone_size_ = static_cast<uint32_t>(row.phone.size());
  contact_.reset();
  size_t total = row.email.size() + row.phone.size();
  if (total == 0) return;
  contact_ = std::make_unique<char[]>(total);
  std::memcpy(contact_.get(), row.email.data(), row.email.size());
  std::memcpy(contact_.get() + row.email.size(), row.phone.data(), row.phone.size());
}

user_view user_profile::view() const {
  if (!contact_) return {id_, {}, {}, created_at_};
  return {id_, std::string(contact_.get(), email_size_),
          std::string(contact_.get() + email_size_, phone_size_), created_at_};
}

namespace user_detail {

failure retire_failure(const user_state& st) {
  if (st.retire_code == error_code::user_not_found)
    return {error_code::user_not_found, "user not found", 0};
  if (st.retire_code == error_code::shard_unavailable) return shard_unavailable_failure();
  return {error_code::store_unavailable, "the store is unavailable; retry", user_retry_after_s};
}

failure overloaded(const char* why) {
  return {error_code::overloaded, why, user_retry_after_s};
}

std::optional<failure> refuse_write(const user_state& st) {
  // With ack=memory credit replies do not wait; the writer backlog bounds the rest.
  return st.writes.refuse(*st.context, "user", user_retry_after_s);
}

void submit_write(user_pointer self, write_batch records, uncommitted_write pending) {
  auto& st = self->state;
  pending.after = st.speculative;
  st.writes.submit(self, st.id, st.epoch, std::move(records), std::move(pending));
}

} // namespace user_detail

namespace {

using namespace user_detail;
using phase = user_state::phase;

// -- what each mutation kind contributes --------------------------------------

struct charge_kind {
  using command = charge_command;
  using result = charge_result;
  using reply_type = charge_reply;
  static constexpr int status = charge_status_created;

  static outcome<accepted_change> decide(user_pointer self, const command& cmd) {
    return decide_charge(self->state.speculative, cmd.amount);
  }
  static result make_result(user_pointer, const command&, const accepted_change& change, const uuid& charge_id,
                            timestamp_us) {
    return {charge_id, change.amount, change.after.available};
  }
  static void add_records(user_pointer, const command&, const uuid&, timestamp_us, write_batch&,
                          uncommitted_write&) {}
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

  static outcome<accepted_change> decide(user_pointer self, const command& cmd) {
    return decide_credit(self->state.speculative, cmd.amount);
  }
  static result make_result(user_pointer, const command&, const accepted_change& change, const uuid&,
                            timestamp_us) {
    return {change.after.available, change.after.reserved};
  }
  static void add_records(user_pointer, const command&, const uuid&, timestamp_us, write_batch&,
                          uncommitted_write&) {}
  /// Grants and debits name the admin's reason.
  static std::string reference(const command& cmd, const uuid&) { return cmd.reason; }
  static std::string description(const command&) { return {}; }
  static std::optional<result> decode(const std::string& bytes) { return decode_credit_result(bytes); }
  static uncommitted_write::credit_waiting wait(reply_type done, mutation_reply<result> answer) {
    return {std::move(done), std::move(answer)};
  }
};

/// POST /v1/generations: the reservation of the price, and the generation
/// itself (user_generations.cpp).
struct generation_kind {
  using command = generation_command;
  using result = generation_created;
  using reply_type = generation_created_reply;
  static constexpr int status = generation_status_accepted;

  static outcome<accepted_change> decide(user_pointer self, const command& cmd) {
    return decide_generation(self, cmd);
  }
  static result make_result(user_pointer self, const command& cmd, const accepted_change& change,
                            const uuid& generation_id, timestamp_us now) {
    return created_result(self, cmd, change, generation_id, now);
  }
  static void add_records(user_pointer self, const command& cmd, const uuid& generation_id, timestamp_us now,
                          write_batch& records, uncommitted_write& pending) {
    add_created_generation(self, cmd, generation_id, now, records, pending);
  }
  /// The reserve entry names the generation (API.md, ledger `reference`).
  static std::string reference(const command&, const uuid& generation_id) { return to_string(generation_id); }
  static std::string description(const command&) { return {}; }
  static std::optional<result> decode(const std::string& bytes) { return decode_generation_created(bytes); }
  static uncommitted_write::generation_created_waiting wait(reply_type done, mutation_reply<result> answer) {
    return {std::move(done), std::move(answer)};
  }
};

// -- small helpers -------------------------------------------------------------

/// Credits never go below zero, in memory or as committed (DESIGN.md: the
/// product's first promise); checked after every apply.
void check_balance(const user_state& st, const balance& bal) {
  TALLY_INVARIANT(bal.available >= 0, "available >= 0", to_string(st.id));
  TALLY_INVARIANT(bal.reserved >= 0, "reserved >= 0", to_string(st.id));
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

void fail_waiting(uncommitted_write& write, const failure& why) {
  std::visit(
    [&](auto& waiting) {
      using waiting_type = std::decay_t<decltype(waiting)>;
      if constexpr (std::is_same_v<waiting_type, uncommitted_write::session_waiting>)
        waiting.fail(why);
      else if constexpr (!std::is_same_v<waiting_type, std::monostate>)
        waiting.done(why);
    },
    write.waiting);
}

void deliver_waiting(uncommitted_write& write) {
  std::visit(
    [](auto& waiting) {
      using waiting_type = std::decay_t<decltype(waiting)>;
      if constexpr (std::is_same_v<waiting_type, uncommitted_write::session_waiting>)
        waiting.deliver();
      else if constexpr (!std::is_same_v<waiting_type, std::monostate>)
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
  // Taken out first: a reply callback must never see a half-cleared state.
  auto waiting = st.writes.take_all();
  st.keys.reset();
  for (auto& write : waiting) fail_waiting(write, why);
  drop_sessions(self);
  drop_generations(self);
  ask_retirement(self);
}

// -- activation ------------------------------------------------------------------

void on_loaded(user_pointer self, user_snapshot& snapshot) {
  auto& st = self->state;
  st.current = phase::active;
  // Every activation bumps the owner epoch (fencing): never 0, never reused.
  TALLY_INVARIANT(snapshot.owner_epoch > 0, "owner epoch bumped by activation", to_string(st.id));
  check_balance(st, snapshot.bal);
  st.epoch = snapshot.owner_epoch;
  st.speculative = snapshot.bal;
  st.committed = snapshot.bal;
  st.ledger_seq = snapshot.ledger_seq;
  st.older_keys_in_store = snapshot.older_idempotency_in_store;
  st.profile.assign(snapshot.user);
  if (!snapshot.recent_idempotency.empty()) {
    auto& keys = keys_of(st);
    // The store gives newest first; the cache evicts oldest first.
    for (auto i = snapshot.recent_idempotency.rbegin(); i != snapshot.recent_idempotency.rend(); ++i)
      keys.add_committed(i->key, std::move(i->request_digest), i->status, std::move(i->response));
  }
  // Nothing of an earlier incarnation is still at the provider for us.
  interrupt_leftovers(self, snapshot.active_generations);
}

void on_load_failed(user_pointer self, const caf::error& err) {
  auto code = to_error_code(err, error_code::store_unavailable);
  bool kept = code == error_code::user_not_found || code == error_code::shard_unavailable;
  retire(self, kept ? code : error_code::store_unavailable);
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
  // With ack=memory nothing waits for the commit, so only the backlog bounds.
  if (context.ack == ack_mode::memory && context.health->backlog_full()) {
    done(overloaded("the write-behind backlog is full"));
    return;
  }
  if (context.ack == ack_mode::commit) {
    if (auto refused = refuse_write(st)) {
      done(*refused);
      return;
    }
  }
  auto decision = Kind::decide(self, cmd);
  if (!decision) {
    done(decision.error());  // not stored: a retry with the same key re-evaluates
    return;
  }
  const auto& change = decision.value();
  auto now = now_us();
  auto subject_id = random_uuid();
  auto result = Kind::make_result(self, cmd, change, subject_id, now);
  st.speculative = change.after;
  check_balance(st, st.speculative);
  ++st.ledger_seq;

  write_batch records;
  records.ledger.push_back(ledger_write{st.id,
                                        make_ledger_entry(change, random_uuid(), st.ledger_seq,
                                                          Kind::reference(cmd, subject_id), now),
                                        Kind::description(cmd)});
  records.balances.push_back(balance_write{st.id, st.epoch, change.after, st.ledger_seq, now});

  uncommitted_write pending;
  Kind::add_records(self, cmd, subject_id, now, records, pending);
  const auto& idem = cmd.idem;
  if (!idem.key.empty()) {
    auto response = encode(result);
    records.idempotency.push_back(
      idempotency_record{st.id, idem.key, idem.request_digest, Kind::status, response, now});
    keys_of(st).add_pending(idem.key, idem.request_digest, Kind::status, std::move(response));
    pending.idempotency_key = idem.key;
  }
  mutation_reply<typename Kind::result> answer{result, false};
  if (context.ack == ack_mode::memory)
    done(std::move(answer));
  else
    pending.waiting = Kind::wait(std::move(done), std::move(answer));
  submit_write(self, std::move(records), std::move(pending));
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
  // Taken out before any reply runs: a delivery may start a new write.
  for (auto& write : st.writes.take_committed(token, st.id)) {
    st.committed = write.after;
    check_balance(st, st.committed);
    if (!write.idempotency_key.empty() && st.keys) st.keys->mark_committed(write.idempotency_key);
    deliver_waiting(write);
    if (!write.submit_generation.is_nil()) submit_generation(self, write.submit_generation);
  }
}

void on_write_failed(user_pointer self, uint64_t token) {
  auto& st = self->state;
  if (st.current != phase::active) return;
  log_event(log_level::warn, "write failed; user reloads from the store",
            {{"user_id", std::string_view(to_string(st.id))},
             {"token", static_cast<int64_t>(token)},
             {"waiting", static_cast<int64_t>(st.writes.size())}});
  retire(self, error_code::store_unavailable);
}

// -- commands (protocols/commands.hpp) ---------------------------------------------

void handle(user_pointer self, balance_request& cmd, balance_reply done) {
  with_session(
    self, cmd.session, [self, done](session_entry&) { done(self->state.committed); },
    fail_to(done));
}

void handle(user_pointer self, ledger_request& cmd, ledger_reply done) {
  // The reader answers the reply directly; the page never passes here.
  with_session(
    self, cmd.session,
    [self, query = std::move(cmd.query), done](session_entry&) mutable {
      auto& st = self->state;
      self->send(st.reader, ledger_atom_v, st.id, std::move(query), completion{std::move(done)});
    },
    fail_to(done));
}

void handle(user_pointer self, charge_request& cmd, charge_reply done) {
  with_session(
    self, cmd.session,
    [self, command = std::move(cmd.command), done](session_entry&) mutable {
      on_mutation<charge_kind>(self, command, done);
    },
    fail_to(done));
}

void handle(user_pointer self, credit_request& cmd, credit_reply done) {
  on_mutation<credit_kind>(self, cmd.command, done);
}

void handle(user_pointer self, me_request& cmd, me_reply done) {
  me(self, cmd.session, std::move(done));
}

void handle(user_pointer self, logout_request& cmd, logout_reply done) {
  logout(self, cmd.session, cmd.origin, std::move(done));
}

void handle(user_pointer self, refresh_request& cmd, grant_reply done) {
  refresh(self, cmd.session, cmd.token, cmd.origin, std::move(done));
}

void handle(user_pointer self, open_session_request& cmd, grant_reply done) {
  open_session(self, cmd.method, cmd.origin, std::move(done));
}

void handle(user_pointer self, create_generation_request& cmd, generation_created_reply done) {
  with_session(
    self, cmd.session,
    [self, command = std::move(cmd.command), done](session_entry&) mutable {
      on_mutation<generation_kind>(self, command, done);
    },
    fail_to(done));
}

void handle(user_pointer self, get_generation_request& cmd, generation_reply done) {
  get_generation(self, cmd, std::move(done));
}

void handle(user_pointer self, list_generations_request& cmd, generation_page_reply done) {
  list_generations(self, cmd, std::move(done));
}

void handle(user_pointer self, cancel_generation_request& cmd, generation_reply done) {
  cancel_generation(self, cmd, std::move(done));
}

void handle(user_pointer self, generation_answer_request& cmd, logout_reply done) {
  if (self->state.current != phase::active) {
    done(false);  // the next activation fails it as interrupted
    return;
  }
  answer_generation(self, cmd, std::move(done));
}

void handle(user_pointer self, expire_generations_request&, logout_reply done) {
  if (self->state.current != phase::active) {
    done(false);
    return;
  }
  expire_generations(self, std::move(done));
}

void handle(user_pointer self, check_session_request& cmd, reply<bool> done) {
  with_session(
    self, cmd.session, [done](session_entry&) { done(true); }, fail_to(done));
}

void handle(user_pointer self, membership_changed_request& cmd, reply<bool> done) {
  note_membership(self, cmd.membership);
  done(true);
}

void handle(user_pointer self, topup_request& cmd, topup_reply done) {
  topup(self, cmd, std::move(done));
}

} // namespace

user_actor::behavior_type user_behavior(user_pointer self, uuid id, uint64_t activation,
                                        registry_actor registry, reader_actor reader,
                                        const entity_context* context) {
  auto& st = self->state;
  init_entity_state(st, id, activation, std::move(registry), std::move(reader), context);
  auto since = now_us() - context->idempotency_retention.count();
  // await: every other message waits in the mailbox until the snapshot is in.
  // No finite timeout: CAF 0.17 keeps each one in the clock until it expires.
  self
    ->request(st.reader, caf::infinite, load_atom_v, id,
              static_cast<uint64_t>(context->idempotency_cached_max), since)
    .await([self](user_snapshot& snapshot) { on_loaded(self, snapshot); },
           [self](caf::error& err) { on_load_failed(self, err); });
  return {
    [self](entity_command& command, completion& done) {
      handle_command<user_command>(self, command, done,
                     [self](auto& cmd, auto answer) { handle(self, cmd, std::move(answer)); });
    },
    [self](committed_atom, uint64_t token) { on_committed(self, token); },
    [self](write_failed_atom, uint64_t token) { on_write_failed(self, token); },
    [self](idle_query_atom) { answer_idle_query(self); },
    [self](sync_atom) { answer_sync(self); },
    [self](passivate_atom) { self->quit(); },
  };
}

} // namespace tally
