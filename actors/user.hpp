#pragma once
// The user actor: the single owner of one user's credits and sessions. It
// applies every mutation in memory, one at a time (so check-then-act is
// race-free), hands the records to the write-behind writer and answers once
// they committed. Every command that names a session (everything but the
// admin's credit) checks that session first (user_sessions.cpp).
//
//   spawn --load--> activating --snapshot--> active --write_failed--> retiring
//                        |                     |                         |
//                        +--no user / error----|-------------------------+
//                                              | idle_query (registry: no command
//                                              v  for passivate_after), nothing pending
//                                     idle(handled) to registry --passivate--> quit
//
// Retiring: every command is answered with the retirement's error and the
// actor asks the registry to retire it, so the next command re-activates a
// fresh actor from the store (memory never runs ahead of the store).
//
// Idle users hold no timer: the registry's one periodic sweep asks them
// (a clock entry per user would cost ~240 bytes each, see registry.hpp).
#include <chrono>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "caf/timespan.hpp"

#include "actors/entity_context.hpp"
#include "actors/idempotency_cache.hpp"
#include "actors/session_cache.hpp"
#include "actors/write_pipeline.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

/// HTTP status stored with a charge's idempotent response (201 Created).
constexpr int charge_status_created = 201;
/// HTTP status stored with an admin credit's idempotent response.
constexpr int credit_status_ok = 200;
/// HTTP status stored with a generation create's idempotent response (202 Accepted).
constexpr int generation_status_accepted = 202;
/// Retry-After (seconds) suggested when a user answers 503.
constexpr int user_retry_after_s = 1;
/// Sessions a user actor keeps in memory; beyond it the least recently used
/// one that nothing waits on is dropped (and loaded again when used). A few
/// devices per user is the norm; a user with more pays a store read now and
/// then, never unbounded memory.
constexpr size_t sessions_cached_max = 16;

/// An accepted command whose records are with the writer.
struct uncommitted_write {
  uint64_t token = 0;
  balance after;
  std::string idempotency_key;  ///< empty = none
  /// The reply still owed (ack=commit), or monostate (answered already).
  struct charge_waiting {
    charge_reply done;
    mutation_reply<charge_result> answer;
  };
  struct credit_waiting {
    credit_reply done;
    mutation_reply<credit_result> answer;
  };
  /// Session writes (login, refresh, logout): what to answer on commit and
  /// on failure.
  struct session_waiting {
    std::function<void()> deliver;
    std::function<void(const failure&)> fail;
  };
  /// A generation's create (202) and its cancel (200).
  struct generation_created_waiting {
    generation_created_reply done;
    mutation_reply<generation_created> answer;
  };
  struct generation_waiting {
    generation_reply done;
    generation_row answer;
  };
  std::variant<std::monostate, charge_waiting, credit_waiting, session_waiting,
               generation_created_waiting, generation_waiting>
    waiting;
  /// A created generation to hand to the provider once this write commits
  /// (nil = none): nothing is sent for a generation the store may not hold.
  uuid submit_generation{};
};

/// A generation of this user that still holds its reservation (pending or
/// processing). Held in memory from its create (or never, when activation
/// finds it left by an earlier incarnation: it is failed as interrupted).
struct active_generation {
  generation_row row;
  /// The breaker's admission it was created under (given back if it is
  /// never submitted).
  provider_admission admission;
  /// Handed to the provider.
  bool submitted = false;
};

/// The user row as GET /v1/auth/me shows it, compact: email and phone share
/// one heap block, and none when both are empty (a user_row held inline
/// cost 88 bytes per active user).
class user_profile {
public:
  void assign(const user_row& row);
  user_view view() const;

private:
  uuid id_{};
  timestamp_us created_at_ = 0;
  /// email then phone, back to back (no terminator); null when both empty.
  std::unique_ptr<char[]> contact_;
  uint32_t email_size_ = 0;
  uint32_t phone_size_ = 0;
};

/// A payment top-up waiting for its commit, and the top-ups of the same
/// object (under other event ids) that wait for its outcome.
struct topup_in_flight {
  std::string object_id;
  std::string event_id;
  std::vector<topup_reply> waiting;
};

struct user_state {
  /// Where the actor is in its life (diagram above).
  enum class phase : uint8_t {
    activating,  ///< waiting for the snapshot; commands wait in the mailbox
    active,      ///< serving
    retiring,    ///< answering `retire_code` until the registry retires it
  };

  static inline const char* name = "tally.user";

  uuid id{};
  uint64_t activation = 0;
  const entity_context* context = nullptr;
  registry_actor registry;
  reader_actor reader;

  // The small fields side by side (8 bytes, not 24 with padding): this
  // state is held once per active user.
  phase current = phase::activating;
  error_code retire_code = error_code::none;
  /// The store held more keys than the snapshot brought.
  bool older_keys_in_store = false;
  uint32_t lookups_in_flight = 0;
  int64_t epoch = 0;
  /// Memory's view: every accepted command applied.
  balance speculative;
  /// The store's view: as of the last committed write (GET balance).
  balance committed;
  int64_t ledger_seq = 0;
  /// Registry messages handled: the passivation handshake compares it with
  /// what the registry forwarded.
  uint64_t handled = 0;
  /// Writes with the writer, and what each owes once committed.
  write_pipeline<uncommitted_write> writes;
  /// Allocated on first use: most idle users never hold a key.
  std::unique_ptr<idempotency_cache> keys;
  /// The user row (GET /v1/auth/me, token pairs).
  user_profile profile;
  /// Held inline: an active user almost always holds one session, so a
  /// separate allocation would only add to it.
  session_cache sessions{sessions_cached_max};
  /// Generations holding a reservation, oldest first (at most
  /// generation_config::active_max, so a short vector). Invariant:
  /// speculative.reserved == the sum of their prices.
  std::vector<active_generation> generations;
  /// GCRA state of the create-rate limit (memory only: a restart grants at
  /// most one more burst, like the per-IP limit).
  timestamp_us generation_rate_tat = 0;
  /// The breaker's admission of the create being applied right now
  /// (between the decision and its records, in one handler).
  provider_admission admitting;
  /// The user's tenants with roles (/v1/auth/me): loaded from the store on
  /// the first /me of an activation, then kept current by the tenants'
  /// membership notices (user_memberships.cpp). Null: not loaded.
  std::unique_ptr<std::vector<membership_view>> memberships;
  /// Payment top-ups waiting for their commit (user_topups.hpp); allocated
  /// only while one is.
  std::unique_ptr<std::vector<topup_in_flight>> topups_in_flight;

  // -- lifecycle predicates (lifecycle.hpp) --------------------------------------
  bool retiring() const { return current == phase::retiring; }
  bool can_retire_now() const { return lookups_in_flight == 0; }
  bool idle_now() const {
    // A user with an active generation stays: its provider answer comes
    // back here, and a reload would fail it as interrupted.
    return current == phase::active && writes.empty() && lookups_in_flight == 0 && generations.empty();
  }
};

/// Behaviour of one user actor. Spawned by the registry; `activation` is the
/// registry's number for this incarnation (echoed in idle/down messages).
user_actor::behavior_type user_behavior(user_actor::stateful_pointer<user_state> self, uuid id,
                                        uint64_t activation, registry_actor registry,
                                        reader_actor reader, const entity_context* context);

} // namespace tally
