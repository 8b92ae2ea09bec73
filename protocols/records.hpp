#pragma once
// What the persistence layer reads and writes. A user actor turns each
// accepted command into records; the writer commits a batch of them in one
// transaction (group commit).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocols/credits.hpp"

namespace tally {

/// A user as created by login (auth issue) or by `tally create-user`.
struct user_row {
  uuid id{};
  std::string email;  ///< empty = none
  std::string phone;  ///< empty = none
  timestamp_us created_at = 0;
};

/// A stored idempotent response: replayed for the same key and digest.
/// `response` is the msgpack encoding of the result (protocols/codec.hpp).
struct idempotency_record {
  uuid user_id{};
  std::string key;
  std::string request_digest;
  int status = 0;          ///< HTTP status of the stored response
  std::string response;    ///< msgpack bytes
  timestamp_us created_at = 0;
};

/// Everything a user actor needs at activation.
struct user_snapshot {
  user_row user;
  balance bal;
  int64_t ledger_seq = 0;    ///< seq of the newest ledger entry (0 = none)
  int64_t owner_epoch = 0;   ///< already bumped by this activation
  /// The newest idempotency records (at most the limit asked for).
  std::vector<idempotency_record> recent_idempotency;
  /// True when the store holds unexpired records beyond recent_idempotency:
  /// a key not in memory must then be looked up in the store.
  bool older_idempotency_in_store = false;
};

/// The coalesced balance of one user after a batch. The write is conditional
/// on owner_epoch (fencing, ready for the cluster).
struct balance_write {
  uuid user_id{};
  int64_t owner_epoch = 0;
  balance bal;
  int64_t ledger_seq = 0;
  timestamp_us updated_at = 0;
};

struct ledger_write {
  uuid user_id{};
  ledger_entry entry;
  std::string description;  ///< charge description; not part of the API's ledger view
};

/// One transaction's worth of records, in entity order.
struct write_batch {
  std::vector<balance_write> balances;
  std::vector<ledger_write> ledger;
  std::vector<idempotency_record> idempotency;
  bool empty() const { return balances.empty() && ledger.empty() && idempotency.empty(); }
  size_t record_count() const { return balances.size() + ledger.size() + idempotency.size(); }
};

} // namespace tally
