#include "actors/user_topups.hpp"

#include <algorithm>
#include <memory>
#include <utility>

#include "caf/all.hpp"

#include "actors/credit_decisions.hpp"
#include "protocols/invariant.hpp"

namespace tally::user_detail {

namespace {

/// The ledger description of a top-up (not part of the API's ledger view).
constexpr const char* topup_description = "payment top-up";

failure store_unavailable() {
  return {error_code::store_unavailable, "the store is unavailable; retry", user_retry_after_s};
}

/// The top-up of `object_id` waiting for its commit in this actor, if any.
topup_in_flight* in_flight_topup(user_state& st, const std::string& object_id) {
  if (!st.topups_in_flight) return nullptr;
  for (auto& entry : *st.topups_in_flight)
    if (entry.object_id == object_id) return &entry;
  return nullptr;
}

/// Takes the object's entry out; returns the replies that waited on it.
std::vector<topup_reply> forget_in_flight(user_state& st, const std::string& object_id) {
  std::vector<topup_reply> waiting;
  if (!st.topups_in_flight) return waiting;
  auto& in_flight = *st.topups_in_flight;
  auto found = std::find_if(in_flight.begin(), in_flight.end(),
                            [&](const auto& entry) { return entry.object_id == object_id; });
  if (found != in_flight.end()) {
    waiting = std::move(found->waiting);
    in_flight.erase(found);
  }
  if (in_flight.empty()) st.topups_in_flight.reset();
  return waiting;
}

/// Applies the top-up in memory and hands the ledger entry, the balance,
/// the payment row and the event's `processed` record to the writer as one
/// write: they commit together or not at all.
void apply_topup(user_pointer self, const topup_request& cmd, topup_reply done) {
  auto& st = self->state;
  // An admin grant's decision (amount > 0, no int64 overflow), booked as a topup.
  auto decision = decide_credit(st.speculative, cmd.credits);
  if (!decision) {
    done(decision.error());
    return;
  }
  auto change = decision.value();
  change.type = ledger_type::topup;
  auto now = now_us();
  st.speculative = change.after;
  TALLY_INVARIANT(st.speculative.available >= 0, "available >= 0", to_string(st.id));
  ++st.ledger_seq;

  write_batch records;
  records.ledger.push_back(ledger_write{
    st.id, make_ledger_entry(change, random_uuid(), st.ledger_seq, cmd.object_id, now),
    topup_description});
  records.balances.push_back(balance_write{st.id, st.epoch, change.after, st.ledger_seq, now});
  records.payments.push_back(payment_row{payment_object_key(cmd.object_id), cmd.object_id, st.id,
                                         cmd.credits, cmd.event.event_id, now});
  auto event = cmd.event;
  event.status = webhook_status::processed;
  event.processed_at = now;
  records.webhook_events.push_back(std::move(event));

  if (!st.topups_in_flight) st.topups_in_flight = std::make_unique<std::vector<topup_in_flight>>();
  st.topups_in_flight->push_back(topup_in_flight{cmd.object_id, cmd.event.event_id, {}});

  // Top-ups of the same object under other event ids waited for this one:
  // once it committed they are "already paid"; if it failed, so do they (a
  // retryable 503), and none of them was called paid before it was.
  uncommitted_write pending;
  pending.waiting = uncommitted_write::session_waiting{
    [self, object = cmd.object_id, by = cmd.event.event_id, after = change.after, now, done] {
      for (auto& waiting : forget_in_flight(self->state, object))
        waiting(topup_result{false, by, after, 0});
      done(topup_result{true, by, after, now});
    },
    [self, object = cmd.object_id, done](const failure& why) {
      for (auto& waiting : forget_in_flight(self->state, object)) waiting(why);
      done(why);
    }};
  submit_write(self, std::move(records), std::move(pending));
}

} // namespace

void topup(user_pointer self, topup_request& cmd, topup_reply done) {
  auto& st = self->state;
  if (st.current != user_state::phase::active) {
    done(retire_failure(st));
    return;
  }
  if (auto refused = refuse_write(st)) {
    done(*refused);
    return;
  }
  if (auto* in_flight = in_flight_topup(st, cmd.object_id)) {
    in_flight->waiting.push_back(std::move(done));
    return;
  }
  // Whether any activation (on any node) paid this object is in the store:
  // its payment row commits with the top-up. `await`: top-ups are rare, and
  // nothing else may run between this answer and the in-memory apply.
  self->request(st.reader, caf::infinite, find_payment_atom_v, payment_object_key(cmd.object_id))
    .await(
      [self, cmd, done](payment_lookup& found) {
        auto& st = self->state;
        if (st.current != user_state::phase::active) {
          done(retire_failure(st));
          return;
        }
        if (found.payment) {
          done(topup_result{false, found.payment->event_id, st.speculative});
          return;
        }
        if (auto refused = refuse_write(st)) {
          done(*refused);
          return;
        }
        apply_topup(self, cmd, done);
      },
      [done](caf::error&) { done(store_unavailable()); });
}

} // namespace tally::user_detail
