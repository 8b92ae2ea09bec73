#include "actors/credit_decisions.hpp"

#include <limits>

namespace tally {

outcome<accepted_change> decide_charge(const balance& current, int64_t amount) {
  if (amount <= 0) return failure{error_code::validation_failed, "amount must be positive", 0};
  if (amount > current.available)
    return failure{error_code::insufficient_credits, "not enough available credits", 0};
  balance after = current;
  after.available -= amount;
  return accepted_change{after, ledger_type::charge, amount};
}

outcome<accepted_change> decide_credit(const balance& current, int64_t amount) {
  constexpr auto int64_max = std::numeric_limits<int64_t>::max();
  if (amount == 0) return failure{error_code::validation_failed, "amount must not be zero", 0};
  balance after = current;
  if (amount > 0) {
    // available + reserved must stay representable too: both are summed
    // when a reservation is released back.
    if (amount > int64_max - current.available - current.reserved)
      return failure{error_code::validation_failed, "balance would overflow", 0};
    after.available += amount;
    return accepted_change{after, ledger_type::grant, amount};
  }
  // -INT64_MIN is not representable; no balance is that large anyway.
  if (amount == std::numeric_limits<int64_t>::min())
    return failure{error_code::validation_failed, "amount out of range", 0};
  int64_t debit = -amount;
  if (debit > current.available)
    return failure{error_code::insufficient_credits, "not enough available credits", 0};
  after.available -= debit;
  return accepted_change{after, ledger_type::debit, debit};
}

idempotency_verdict decide_idempotency(const known_key* known, std::string_view request_digest) {
  if (known == nullptr) return idempotency_verdict::proceed;
  if (known->looking_up) return idempotency_verdict::in_use;
  if (known->request_digest != request_digest) return idempotency_verdict::reused;
  return known->replayable ? idempotency_verdict::replay : idempotency_verdict::in_use;
}

ledger_entry make_ledger_entry(const accepted_change& change, const uuid& id, int64_t seq,
                               std::string reference, timestamp_us created_at) {
  ledger_entry entry;
  entry.id = id;
  entry.seq = seq;
  entry.type = change.type;
  entry.amount = change.amount;
  entry.available_after = change.after.available;
  entry.reserved_after = change.after.reserved;
  entry.reference = std::move(reference);
  entry.created_at = created_at;
  return entry;
}

} // namespace tally
