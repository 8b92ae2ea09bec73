#pragma once
// The decisions a user actor takes, as pure functions of its state and a
// command. No CAF, no I/O: the actor applies what these return and turns it
// into records; these only say "yes, and the result is ..." or "no, because".
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/credits.hpp"
#include "protocols/outcome.hpp"

namespace tally {

/// An accepted balance change: the balance after it and the ledger effect.
struct accepted_change {
  balance after;
  ledger_type type = ledger_type::charge;
  /// Always > 0; `type` gives the direction (API.md, ledger).
  int64_t amount = 0;
};

/// Charge `amount` (> 0) from available; insufficient_credits when it is
/// more than available.
outcome<accepted_change> decide_charge(const balance& current, int64_t amount);

/// Admin credit: amount > 0 grants (int64 overflow -> validation_failed),
/// amount < 0 debits and never goes below zero (insufficient_credits),
/// amount == 0 -> validation_failed.
outcome<accepted_change> decide_credit(const balance& current, int64_t amount);

/// What is known about an idempotency key before a mutation runs.
struct known_key {
  std::string_view request_digest;
  /// The stored response is final: committed (or, with ack=memory, applied).
  bool replayable = false;
  /// Not in memory; the store is being asked. The digest is the asker's, not
  /// the stored one, so it proves nothing: every request is in_use until the
  /// answer arrives (else a correct retry could be called "reused").
  bool looking_up = false;
};

/// What to do with a mutation given its key.
enum class idempotency_verdict : uint8_t {
  proceed,  ///< unknown key: run the command
  replay,   ///< same key, same body, final: answer the stored response
  reused,   ///< same key, other body: 422 IDEMPOTENCY_KEY_REUSED
  in_use,   ///< same key, first request still in flight: 409 IDEMPOTENCY_KEY_IN_USE
};

/// Only successful outcomes are stored, so a key whose first attempt failed
/// (a 402, say) is unknown here and the retry is evaluated afresh.
idempotency_verdict decide_idempotency(const known_key* known, std::string_view request_digest);

/// The ledger entry of an accepted change; the caller supplies identity.
ledger_entry make_ledger_entry(const accepted_change& change, const uuid& id, int64_t seq,
                               std::string reference, timestamp_us created_at);

} // namespace tally
