#include "actors/webhook_event.hpp"
#include "actors/load_refusal.hpp"

#include <utility>

#include "caf/all.hpp"

#include "actors/lifecycle.hpp"
#include "protocols/log.hpp"

namespace tally {

namespace {

using event_pointer = webhook_event_actor::stateful_pointer<webhook_event_state>;
using phase = webhook_event_state::phase;

/// The 422 field of the metadata's user id (unknown user).
constexpr const char* user_id_field = "data.object.metadata.user_id";
constexpr const char* credits_field = "data.object.metadata.credits";

failure store_unavailable() {
  return {error_code::store_unavailable, "the store is unavailable; retry", webhook_retry_after_s};
}

webhook_outcome outcome_of(webhook_status status, std::vector<webhook_problem> problems = {}) {
  return {status, std::move(problems)};
}

timestamp_us now_of(const webhook_event_state& st) {
  return st.context->clock();
}

// -- writes --------------------------------------------------------------------------

/// Writes the record as memory holds it; `on_commit` answers.
void write_row(event_pointer self, std::function<void()> on_commit,
               std::function<void(const failure&)> on_fail) {
  auto& st = self->state;
  TALLY_INVARIANT(st.row.has_value() && st.row->status != webhook_status::processing,
                  "only a settled record is written", to_string(st.id));
  write_batch records;
  records.webhook_events.push_back(*st.row);
  // The store does not fence this row (it merges it monotonically,
  // protocols/webhook.hpp; the top-up's guard is the payment row). The
  // activation number stands in for the epoch: the write queue refuses
  // writes of an epoch it saw fail for good, so each incarnation needs a
  // newer one.
  st.writes.submit(self, st.id, static_cast<int64_t>(st.activation), std::move(records),
                   webhook_event_write{0, std::move(on_commit), std::move(on_fail)});
}

/// Writes the record, then answers every reply in `answers` with `outcome`.
void write_then_answer(event_pointer self, std::vector<reply<webhook_outcome>> answers,
                       webhook_outcome outcome) {
  write_row(
    self,
    [answers, outcome] {
      for (const auto& done : answers) done(outcome);
    },
    [answers](const failure& why) {
      for (const auto& done : answers) done(why);
    });
}

/// Fails everything owed and hands the actor back to the registry.
void retire(event_pointer self) {
  auto& st = self->state;
  st.current = phase::retiring;
  auto writes = st.writes.take_all();
  auto why = store_unavailable();
  if (st.settling) {
    st.settling = false;
    st.first(why);
    for (auto& done : st.waiting) done(why);
    st.waiting.clear();
  }
  for (auto& pending : writes) pending.on_fail(why);
  ask_retirement(self);
}

// -- the record ----------------------------------------------------------------------

/// A record older than the retention is gone (or about to be, by the sweep).
void forget_if_expired(webhook_event_state& st) {
  if (!st.row || st.settling) return;
  auto oldest = now_of(st) - micros(st.context->webhook.retention);
  if (st.row->first_seen_at < oldest) st.row.reset();
}

/// Runs `then` once the record is read (once per activation).
void ensure_loaded(event_pointer self, std::function<void()> then,
                   std::function<void(const failure&)> refuse) {
  auto& st = self->state;
  if (st.current == phase::active) {
    then();
    return;
  }
  if (st.current == phase::retiring) {
    refuse(store_unavailable());
    return;
  }
  self->request(st.reader, caf::infinite, find_webhook_atom_v, st.id)
    .await(
      [self, then](webhook_event_lookup& found) {
        auto& st = self->state;
        st.row = std::move(found.row);
        st.current = phase::active;
        then();
      },
      [refuse](caf::error& err) { refuse(load_refusal(err, store_unavailable())); });
}

// -- deliveries ------------------------------------------------------------------------

/// The first delivery of a top-up event (or a rejected one again): the
/// user's actor tops up at most once per payment object; its answer comes
/// back as a settle command through the registry.
void start_topup(event_pointer self, const webhook_delivery& delivery, reply<webhook_outcome> done) {
  auto& st = self->state;
  st.settling = true;
  st.first = std::move(done);
  auto attempt = ++st.attempt;
  auto processed = *st.row;
  processed.status = webhook_status::processed;
  st.row->status = webhook_status::processing;
  topup_request request{delivery.object_id, delivery.credits, std::move(processed)};
  auto registry = st.registry;
  auto key = st.id;
  auto activation = st.activation;
  topup_reply settled{[registry, key, activation, attempt](outcome<topup_result> answer) {
                        webhook_settle_request settle;
                        settle.activation = activation;
                        settle.attempt = attempt;
                        settle.ok = answer.ok();
                        if (answer.ok())
                          settle.topped_up = std::move(answer.value());
                        else
                          settle.why = answer.error();
                        caf::anon_send(registry, key, to_entity_command(std::move(settle)),
                                       completion{reply<bool>{[](outcome<bool>) {}}});
                      },
                      store_unavailable()};
  self->send(st.registry, delivery.user, to_entity_command(std::move(request)),
             completion{std::move(settled)});
}

void on_delivery(event_pointer self, const webhook_delivery& delivery, reply<webhook_outcome> done) {
  auto& st = self->state;
  forget_if_expired(st);
  if (st.settling) {
    if (st.waiting.size() >= st.context->webhook.waiting_deliveries_max) {
      done(failure{error_code::overloaded, "too many deliveries of this event at once",
                   webhook_retry_after_s});
      return;
    }
    st.waiting.push_back(std::move(done));
    return;
  }
  if (st.row && st.row->status != webhook_status::rejected) {
    // Settled before: processed, paid by another event, or ignored.
    ++st.row->deliveries;
    write_then_answer(self, {std::move(done)}, outcome_of(webhook_status::duplicate));
    return;
  }
  // The first delivery, or a rejected event delivered again (its user may
  // exist by now): judged afresh.
  st.before_attempt = st.row;
  if (!st.row)
    st.row = webhook_event_row{st.id, delivery.event_id, delivery.type, webhook_status::rejected,
                               0, delivery.received_at, 0};
  ++st.row->deliveries;
  st.row->type = delivery.type;
  if (!is_topup_event(delivery.type)) {
    st.row->status = webhook_status::ignored;
    write_then_answer(self, {std::move(done)}, outcome_of(webhook_status::ignored));
    return;
  }
  if (!delivery.problems.empty()) {
    st.row->status = webhook_status::rejected;
    write_then_answer(self, {std::move(done)},
                      outcome_of(webhook_status::rejected, delivery.problems));
    return;
  }
  start_topup(self, delivery, std::move(done));
}

/// The user's answer to attempt `cmd.attempt`.
void on_settled(event_pointer self, const webhook_settle_request& cmd) {
  auto& st = self->state;
  if (st.current != phase::active || !st.settling || cmd.activation != st.activation
      || cmd.attempt != st.attempt)
    return;  // stale
  st.settling = false;
  auto first = std::move(st.first);
  auto waiting = std::move(st.waiting);
  st.waiting.clear();
  auto& row = *st.row;
  if (!cmd.ok && cmd.why.code != error_code::user_not_found
      && cmd.why.code != error_code::validation_failed) {
    // Nothing was applied (503, overload): as if this attempt never came.
    st.row = std::move(st.before_attempt);
    first(cmd.why);
    for (auto& done : waiting) done(cmd.why);
    return;
  }
  // Every waiting delivery is a later delivery of this event.
  row.deliveries += static_cast<int64_t>(waiting.size());
  std::vector<reply<webhook_outcome>> answers{std::move(first)};
  if (cmd.ok && cmd.topped_up.applied) {
    row.status = webhook_status::processed;
    row.processed_at = cmd.topped_up.processed_at;
    answers.front()(outcome_of(webhook_status::processed));  // committed with the top-up
    answers.clear();
    if (waiting.empty()) return;
    write_then_answer(self, std::move(waiting), outcome_of(webhook_status::duplicate));
    return;
  }
  answers.insert(answers.end(), waiting.begin(), waiting.end());
  if (cmd.ok) {
    // Paid before: by this very event (its record had expired) or another.
    bool ours = cmd.topped_up.by_event == row.event_id;
    row.status = ours ? webhook_status::processed : webhook_status::duplicate;
    if (ours && row.processed_at == 0) row.processed_at = now_of(st);
    write_then_answer(self, std::move(answers), outcome_of(webhook_status::duplicate));
    return;
  }
  row.status = webhook_status::rejected;
  auto problem = cmd.why.code == error_code::user_not_found
                   ? webhook_problem{user_id_field, "no such user"}
                   : webhook_problem{credits_field, "would overflow the user's balance"};
  write_then_answer(self, std::move(answers), outcome_of(webhook_status::rejected, {problem}));
}

/// Common entry: refused while retiring or when no write can be accepted.
template <class Reply>
bool admit(event_pointer self, Reply& done) {
  auto& st = self->state;
  if (st.current == phase::retiring) {
    done(store_unavailable());
    return false;
  }
  if (auto refused = st.writes.refuse(*st.context, "webhook event", webhook_retry_after_s)) {
    done(*refused);
    return false;
  }
  return true;
}

// -- commands (protocols/commands.hpp) ---------------------------------------------

void handle(event_pointer self, webhook_delivery_request& cmd, webhook_reply done) {
  if (admit(self, done))
    ensure_loaded(
      self, [self, delivery = cmd.delivery, done] { on_delivery(self, delivery, done); },
      fail_to(done));
}

void handle(event_pointer self, webhook_settle_request& cmd, reply<bool> done) {
  on_settled(self, cmd);
  done(true);
}

void handle(event_pointer self, webhook_event_request&, webhook_view_reply done) {
  ensure_loaded(
    self,
    [self, done] {
      auto& st = self->state;
      forget_if_expired(st);
      done(st.row ? webhook_event_view{true, *st.row} : webhook_event_view{});
    },
    fail_to(done));
}

} // namespace

webhook_event_actor::behavior_type webhook_event_behavior(event_pointer self, uuid id,
                                                          uint64_t activation,
                                                          registry_actor registry,
                                                          reader_actor reader,
                                                          const entity_context* context) {
  auto& st = self->state;
  init_entity_state(st, id, activation, std::move(registry), std::move(reader), context);
  return {
    [self](entity_command& command, completion& done) {
      handle_command<webhook_event_command>(
        self, command, done, [self](auto& cmd, auto answer) { handle(self, cmd, std::move(answer)); });
    },
    [self](committed_atom, uint64_t token) { run_committed_callbacks(self, token); },
    [self](write_failed_atom, uint64_t token) {
      retire_after_write_failure(self, token, "webhook_event", retire);
    },
    [self](idle_query_atom) { answer_idle_query(self); },
    [self](sync_atom) { answer_sync(self); },
    [self](passivate_atom) { self->quit(); },
  };
}

} // namespace tally
