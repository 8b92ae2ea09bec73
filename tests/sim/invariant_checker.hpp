#pragma once
// The simulation's oracle. It keeps a shadow of what the store committed
// (fed batch by batch by the store double's commit observer) and of what
// every simulated client sent and was answered, and reports the first
// broken invariant as a sentence:
//
//   store   available >= 0; each ledger entry chains from the previous one
//           (seq + 1, *_after = before +/- amount); the balance row equals
//           the last entry; every ledger entry belongs to exactly one stored
//           idempotency key and every key to exactly one entry (nothing
//           applied twice); the store equals the shadow after every step.
//   replies an acknowledged (ok, fresh) mutation is in the store when it is
//           acknowledged (ack=commit) and at the end; a key is executed at
//           most once; a replay returns exactly the stored response; a
//           balance read never shows a state the store never committed.
//
// No CAF in here: the checker is a plain object, unit-tested on its own.
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "actors/runtime.hpp"
#include "protocols/credits.hpp"
#include "protocols/outcome.hpp"
#include "protocols/records.hpp"
#include "tests/sim/simulated_store.hpp"

namespace tally::sim {

/// The two mutation routes a simulated client uses.
enum class op_kind : uint8_t {
  charge,  ///< POST /v1/me/charges
  credit,  ///< POST /v1/admin/users/{id}/credits (grant > 0, debit < 0)
};

/// A mutation's request body: what its idempotency digest covers. `tag` is
/// unique per body and is the charge description or the credit reason, so
/// a credit's ledger entry names its body (reference = reason).
struct op_body {
  op_kind kind = op_kind::charge;
  int64_t amount = 0;
  std::string tag;
  /// Route + canonical body, as http/ would digest it.
  std::string digest() const;
};

/// What may legitimately go wrong in a seed; anything else is a violation.
struct checker_rules {
  ack_mode ack = ack_mode::commit;
  /// 503 STORE_UNAVAILABLE may answer a mutation or read (unreachable store,
  /// permanent or fenced commits). False for the transient-only profile:
  /// there, every accepted write must commit.
  bool store_unavailable_allowed = true;
  /// Replies may be dropped (500 INTERNAL "request was dropped") because a
  /// user actor was killed with commands in its mailbox.
  bool dropped_allowed = true;
  /// With ack=memory: may an acknowledged mutation be lost (a batch failed
  /// for good)? Never with ack=commit.
  bool acknowledged_loss_allowed = false;
};

class invariant_checker {
public:
  explicit invariant_checker(checker_rules rules) : rules_(rules) {}

  // -- set-up ------------------------------------------------------------------

  void add_user(const uuid& user, balance initial);
  /// Every body must be known before it is sent (digests are looked up).
  void add_body(const op_body& body);

  // -- events ------------------------------------------------------------------

  /// A batch the store applied (the store double's commit observer). Users
  /// a login created (new_users) join the shadow with a zero balance.
  void on_commit(const write_batch& batch);

  /// A client sent `body` with `key` to `user`. Returns whether the key was
  /// already committed then (pass it back with the reply).
  bool on_sent(const uuid& user, const std::string& key, const op_body& body);

  /// Replies, as the client received them. `db` is asked directly (not the
  /// shadow) whether an acknowledged write is really stored. A key that was
  /// committed before the request was sent must never run again: the answer
  /// is its replay (same body) or a conflict (other body), or a 503/dropped.
  void on_charge_reply(const simulated_database& db, const uuid& user, const std::string& key,
                       const op_body& body, bool committed_when_sent,
                       const outcome<mutation_reply<charge_result>>& answer);
  void on_credit_reply(const simulated_database& db, const uuid& user, const std::string& key,
                       const op_body& body, bool committed_when_sent,
                       const outcome<mutation_reply<credit_result>>& answer);
  void on_balance_reply(const uuid& user, const outcome<balance>& answer);
  void on_ledger_reply(const uuid& user, const outcome<ledger_page>& answer);
  /// A command for a user the store does not know.
  void on_unknown_user_reply(error_code code, bool ok);

  // -- whole-state checks --------------------------------------------------------

  /// The store equals the shadow (balance row, ledger head); the writer's
  /// backlog is not negative.
  void compare_with_store(const simulated_database& db, int64_t backlog_records);

  /// After quiescence: every acknowledged mutation is in the store (unless
  /// the rules allow its loss) and the backlog is back to zero.
  void final_checks(const simulated_database& db, int64_t backlog_records);

  /// The first violation, if any.
  const std::optional<std::string>& violation() const { return violation_; }
  bool ok() const { return !violation_; }

  // -- statistics ----------------------------------------------------------------

  struct counters {
    size_t fresh_acks = 0;
    size_t replays = 0;
    size_t refused = 0;       ///< insufficient credits
    size_t conflicts = 0;     ///< reused / in use
    size_t overloaded = 0;
    size_t unavailable = 0;   ///< 503 store unavailable
    size_t dropped = 0;       ///< 500 request dropped (killed actor)
    size_t reads = 0;
    size_t committed_entries = 0;
    size_t lost_acks = 0;     ///< ack=memory only, where allowed
  };
  const counters& stats() const { return stats_; }

private:
  /// What the store holds for one idempotency key.
  struct stored_key {
    std::string digest;
    std::string response;
  };

  /// The shadow of one user's committed state.
  struct shadow_user {
    balance bal;
    int64_t seq = 0;
    /// Every balance the store ever committed for this user (initial and
    /// each entry's *_after): a read must show one of them.
    std::vector<balance> history;
    std::unordered_map<std::string, stored_key> keys;
    std::unordered_set<std::string> references;
    /// reference -> the committed entry (for acknowledgement checks).
    std::unordered_map<std::string, ledger_entry> entries;
  };

  /// What one client key saw.
  struct key_history {
    std::vector<std::string> digests_sent;
    /// The response of the last fresh acknowledgement (encoded result).
    std::optional<std::string> acked_digest;
    std::string acked_response;
  };

  void fail(std::string what);
  shadow_user* shadow_of(const uuid& user, const char* during);
  key_history& history_of(const uuid& user, const std::string& key);
  const op_body* body_of_digest(const std::string& digest) const;
  void check_error(const uuid& user, const std::string& key, const op_body& body,
                   const failure& why);
  void check_committed_key(const uuid& user, const std::string& key, const op_body& body,
                           bool replayed, const failure* why);
  void check_acknowledged(const simulated_database& db, const uuid& user, const std::string& key,
                          const op_body& body, bool replayed, const std::string& response);
  /// What every mutation reply is checked for first (the committed key's
  /// replay rule, then refusals). True if the reply is a success still to check.
  template <class Result>
  bool check_reply_start(const uuid& user, const std::string& key, const op_body& body,
                         bool committed_when_sent, const outcome<mutation_reply<Result>>& answer);

  checker_rules rules_;
  std::optional<std::string> violation_;
  std::map<uuid, shadow_user> users_;
  std::unordered_map<std::string, op_body> bodies_;  // by digest
  std::map<std::pair<uuid, std::string>, key_history> keys_;
  counters stats_;
};

/// Short, stable name of an error code for messages.
std::string describe(const failure& why);

} // namespace tally::sim
