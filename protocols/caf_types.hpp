#pragma once
// The one CAF type-ID block of Tally: atoms, the message types, the domain
// error enum, and every typed actor interface with one line per handler.
//
// Only actors/ and persistence/ include this header (http/ sees the gateway).
// Every message type here is local to the process: replies carry
// std::function callbacks and records carry boost UUIDs, neither of which
// has a CAF inspect(). They are whitelisted with CAF_ALLOW_UNSAFE_MESSAGE_TYPE
// and must never cross the wire; node-to-node messages (cluster issue) will
// use the msgpack codec in protocols/codec.hpp instead.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

#include "caf/error.hpp"
#include "caf/fwd.hpp"
#include "caf/replies_to.hpp"
#include "caf/type_id.hpp"
#include "caf/typed_actor.hpp"

#include "protocols/credits.hpp"
#include "protocols/error_code.hpp"
#include "protocols/records.hpp"
#include "protocols/reply.hpp"
#include "protocols/uuid.hpp"

namespace tally {

struct entity_write;
struct idempotency_lookup;

/// Hashes a UUID for the registry's and the writer's maps (v4 UUIDs are
/// random, so folding the two halves is enough).
struct uuid_hash {
  size_t operator()(const uuid& id) const noexcept {
    uint64_t head = 0;
    uint64_t tail = 0;
    std::memcpy(&head, id.data, sizeof head);
    std::memcpy(&tail, id.data + sizeof head, sizeof tail);
    return static_cast<size_t>(head ^ (tail * 0x9e3779b97f4a7c15ULL));
  }
};

using balance_reply = reply<balance>;
using ledger_reply = reply<ledger_page>;
using charge_reply = reply<mutation_reply<charge_result>>;
using credit_reply = reply<mutation_reply<credit_result>>;

} // namespace tally

// Atom texts carry a prefix so they never equal one of CAF's own atoms
// ("flush", "idle", "tick" exist in caf::).
CAF_BEGIN_TYPE_ID_BLOCK(tally, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(tally, (tally::uuid))
  CAF_ADD_TYPE_ID(tally, (tally::ledger_query))
  CAF_ADD_TYPE_ID(tally, (tally::charge_command))
  CAF_ADD_TYPE_ID(tally, (tally::credit_command))
  CAF_ADD_TYPE_ID(tally, (tally::user_snapshot))
  CAF_ADD_TYPE_ID(tally, (tally::entity_write))
  CAF_ADD_TYPE_ID(tally, (tally::idempotency_lookup))
  CAF_ADD_TYPE_ID(tally, (tally::balance_reply))
  CAF_ADD_TYPE_ID(tally, (tally::ledger_reply))
  CAF_ADD_TYPE_ID(tally, (tally::charge_reply))
  CAF_ADD_TYPE_ID(tally, (tally::credit_reply))

  // Commands (http -> registry -> user).
  CAF_ADD_ATOM(tally, tally, balance_atom, "t_balance")
  CAF_ADD_ATOM(tally, tally, ledger_atom, "t_ledger")
  CAF_ADD_ATOM(tally, tally, charge_atom, "t_charge")
  CAF_ADD_ATOM(tally, tally, credit_atom, "t_credit")
  // User lifecycle (user <-> registry).
  CAF_ADD_ATOM(tally, tally, passivate_sweep_atom, "t_sweep")
  CAF_ADD_ATOM(tally, tally, idle_query_atom, "t_idleq")
  CAF_ADD_ATOM(tally, tally, idle_atom, "t_idle")
  CAF_ADD_ATOM(tally, tally, passivate_atom, "t_passiv")
  CAF_ADD_ATOM(tally, tally, user_down_atom, "t_down")
  CAF_ADD_ATOM(tally, tally, sync_atom, "t_sync")
  CAF_ADD_ATOM(tally, tally, synced_atom, "t_synced")
  CAF_ADD_ATOM(tally, tally, drain_atom, "t_drain")
  CAF_ADD_ATOM(tally, tally, stop_atom, "t_stop")
  // Write-behind (user <-> writer).
  CAF_ADD_ATOM(tally, tally, write_atom, "t_write")
  CAF_ADD_ATOM(tally, tally, committed_atom, "t_commit")
  CAF_ADD_ATOM(tally, tally, write_failed_atom, "t_wfail")
  CAF_ADD_ATOM(tally, tally, flush_atom, "t_flush")
  CAF_ADD_ATOM(tally, tally, retry_atom, "t_retry")
  CAF_ADD_ATOM(tally, tally, health_tick_atom, "t_health")
  CAF_ADD_ATOM(tally, tally, flush_and_stop_atom, "t_fstop")
  CAF_ADD_ATOM(tally, tally, flush_deadline_atom, "t_fdead")
  // Reads (user -> reader).
  CAF_ADD_ATOM(tally, tally, load_atom, "t_load")
  CAF_ADD_ATOM(tally, tally, lookup_atom, "t_lookup")
CAF_END_TYPE_ID_BLOCK(tally)

// Domain errors travel between actors as caf::error values of category
// "tally"; error_code::none (0) is CAF's "no error".
CAF_ERROR_CODE_ENUM(tally::error_code, "tally")

namespace tally {

/// Told by the writer to whoever handed it records (a user actor today).
using write_listener = caf::typed_actor<
  // Every write of this listener with a token <= this one is committed.
  caf::reacts_to<committed_atom, uint64_t>,
  // The write with this token failed for good (or was fenced); so will every
  // later one of the same epoch.
  caf::reacts_to<write_failed_atom, uint64_t>>;

/// One entity's records from one accepted command, in entity order.
struct entity_write {
  uuid entity{};
  /// The owner epoch the records were produced under (fencing).
  int64_t epoch = 0;
  /// Per-listener sequence number, strictly increasing.
  uint64_t token = 0;
  write_listener listener;
  write_batch records;
};

/// Answer of an idempotency lookup in the store.
struct idempotency_lookup {
  std::optional<idempotency_record> record;
};

/// The write-behind writer (persistence/writer.hpp).
using writer_actor = caf::typed_actor<
  // Queue one entity's records for the next group commit.
  caf::reacts_to<write_atom, entity_write>,
  // (self) Commit what accumulated while the previous commit ran.
  caf::reacts_to<flush_atom>,
  // (self) The back-off of failed batch `generation` has expired: retry it.
  caf::reacts_to<retry_atom, uint64_t>,
  // (self) Periodic: ping the store while unreachable, sweep old idempotency keys.
  caf::reacts_to<health_tick_atom>,
  // Commit everything pending within `deadline_ms`, then quit; true = all committed.
  caf::replies_to<flush_and_stop_atom, int64_t>::with<bool>,
  // (self) The flush_and_stop deadline passed: answer false and quit.
  caf::reacts_to<flush_deadline_atom>>;

/// A store reader (persistence/reader.hpp); a small pool shares the load.
using reader_actor = caf::typed_actor<
  // Activation: load (and fence) a user with at most `max` recent keys since `since`.
  caf::replies_to<load_atom, uuid, uint64_t, timestamp_us>::with<user_snapshot>,
  // A committed ledger page, delivered straight to the reply.
  caf::reacts_to<ledger_atom, uuid, ledger_query, ledger_reply>,
  // One stored idempotency record created after `since`, if any.
  caf::replies_to<lookup_atom, uuid, std::string, timestamp_us>::with<idempotency_lookup>>;

/// One user: credits, ledger head and idempotency keys (actors/user.hpp).
using user_actor = caf::typed_actor<
  // Committed balance.
  caf::reacts_to<balance_atom, balance_reply>,
  // Committed ledger page (answered by a reader).
  caf::reacts_to<ledger_atom, ledger_query, ledger_reply>,
  // Immediate charge.
  caf::reacts_to<charge_atom, charge_command, charge_reply>,
  // Admin grant or debit.
  caf::reacts_to<credit_atom, credit_command, credit_reply>,
  // Writer: writes up to this token are committed.
  caf::reacts_to<committed_atom, uint64_t>,
  // Writer: a write failed for good; memory must not run ahead of the store.
  caf::reacts_to<write_failed_atom, uint64_t>,
  // Registry: no command for passivate_after; answer idle(handled) if nothing is pending.
  caf::reacts_to<idle_query_atom>,
  // Registry: everything before this is handled; answer synced to the registry.
  caf::reacts_to<sync_atom>,
  // Registry: the passivation handshake succeeded, quit now.
  caf::reacts_to<passivate_atom>>;

/// uuid -> user actor, with lazy activation (actors/registry.hpp).
using registry_actor = caf::typed_actor<
  // Forward to the user (activating it first); likewise the next three.
  caf::reacts_to<balance_atom, uuid, balance_reply>,
  caf::reacts_to<ledger_atom, uuid, ledger_query, ledger_reply>,
  caf::reacts_to<charge_atom, uuid, charge_command, charge_reply>,
  caf::reacts_to<credit_atom, uuid, credit_command, credit_reply>,
  // User `activation` has handled `handled` registry messages and is idle.
  caf::reacts_to<idle_atom, uuid, uint64_t, uint64_t>,
  // User `activation` has terminated.
  caf::reacts_to<user_down_atom, uuid, uint64_t>,
  // User `activation` handled everything forwarded before the drain's sync.
  caf::reacts_to<synced_atom, uuid, uint64_t>,
  // Refuse new commands; true once every user sent a mutation has handled it.
  caf::replies_to<drain_atom>::with<bool>,
  // Tell every user to quit, then quit.
  caf::replies_to<stop_atom>::with<bool>,
  // (self) Periodic: query users that got no command for passivate_after.
  caf::reacts_to<passivate_sweep_atom>>;

/// Adds the type-ID block and the "tally" error category to a CAF config
/// (defined in actors/caf_registration.cpp). Call once before creating the
/// actor_system.
void register_caf_types(caf::actor_system_config& config);

/// The domain code inside a CAF error; CAF's own errors (a dead receiver,
/// a dropped request) become `fallback`.
error_code to_error_code(const caf::error& error, error_code fallback);

} // namespace tally

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::uuid)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::ledger_query)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::charge_command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::credit_command)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::user_snapshot)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::entity_write)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::idempotency_lookup)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::balance_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::ledger_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::charge_reply)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::credit_reply)
