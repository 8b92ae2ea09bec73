#pragma once
// Credits vocabulary: the commands a user actor takes, the results it gives,
// and the ledger it keeps. Plain structs; no CAF, no JSON.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/fields.hpp"
#include "protocols/uuid.hpp"

namespace tally {

/// Microseconds since the Unix epoch, UTC. Rendered as RFC 3339 by http/.
using timestamp_us = int64_t;

/// Now, as timestamp_us.
timestamp_us now_us();

/// What a ledger entry did. `amount` is always > 0; the type gives the sign.
enum class ledger_type : uint8_t {
  grant,    ///< admin grant: adds to available
  topup,    ///< payment top-up: adds to available
  debit,    ///< admin debit: takes from available
  charge,   ///< immediate charge: takes from available
  reserve,  ///< moves available -> reserved
  capture,  ///< takes from reserved
  release,  ///< moves reserved -> available
};

std::string_view to_string(ledger_type type);
std::optional<ledger_type> parse_ledger_type(std::string_view text);

struct balance {
  int64_t available = 0;
  int64_t reserved = 0;
  friend bool operator==(const balance& a, const balance& b) {
    return a.available == b.available && a.reserved == b.reserved;
  }
};

/// One append-only ledger entry. `seq` orders a user's entries (1, 2, ...)
/// and is the pagination cursor; `*_after` chain exactly.
struct ledger_entry {
  uuid id{};
  int64_t seq = 0;
  ledger_type type = ledger_type::grant;
  int64_t amount = 0;
  int64_t available_after = 0;
  int64_t reserved_after = 0;
  std::string reference;
  timestamp_us created_at = 0;
};

/// Newest first. `before_seq` = only entries with seq < before_seq.
struct ledger_query {
  int limit = 50;
  std::optional<int64_t> before_seq;
  std::optional<ledger_type> type;  ///< optional filter
};

struct ledger_page {
  std::vector<ledger_entry> entries;
  /// Set when older entries exist: pass as before_seq for the next page.
  std::optional<int64_t> next_before_seq;
};

/// What makes a mutation idempotent: the caller's key (scoped to the user)
/// and a digest of the request (route + canonical body) to detect reuse.
struct idempotency {
  std::string key;
  std::string request_digest;
};

/// POST /v1/me/charges. amount is 1..charge_amount_max (validated in http/).
struct charge_command {
  int64_t amount = 0;
  std::string description;
  idempotency idem;
};

struct charge_result {
  uuid id{};
  int64_t amount = 0;
  int64_t available = 0;
};

/// POST /v1/admin/users/{id}/credits: grant (amount > 0) or debit (< 0).
struct credit_command {
  int64_t amount = 0;
  std::string reason;
  idempotency idem;
};

struct credit_result {
  int64_t available = 0;
  int64_t reserved = 0;
};

/// A mutation's answer: the result, and whether it is the stored replay of an
/// earlier request with the same key and body (Idempotent-Replayed: true).
template <class Result>
struct mutation_reply {
  Result result;
  bool replayed = false;
};

// -- field lists (protocols/fields.hpp) ----------------------------------------------
TALLY_FIELDS(balance, x.available, x.reserved)
TALLY_FIELDS(ledger_entry, x.id, x.seq, x.type, x.amount, x.available_after, x.reserved_after,
             x.reference, x.created_at)
TALLY_FIELDS(ledger_query, x.limit, x.before_seq, x.type)
TALLY_FIELDS(ledger_page, x.entries, x.next_before_seq)
TALLY_FIELDS(idempotency, x.key, x.request_digest)
TALLY_FIELDS(charge_command, x.amount, x.description, x.idem)
TALLY_FIELDS(charge_result, x.id, x.amount, x.available)
TALLY_FIELDS(credit_command, x.amount, x.reason, x.idem)
TALLY_FIELDS(credit_result, x.available, x.reserved)

template <class Result, class F>
decltype(auto) fields(mutation_reply<Result>& x, F&& f) {
  return f(x.result, x.replayed);
}
template <class Result, class F>
decltype(auto) fields(const mutation_reply<Result>& x, F&& f) {
  return f(x.result, x.replayed);
}

} // namespace tally
