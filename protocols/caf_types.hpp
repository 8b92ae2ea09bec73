#pragma once
// The one CAF type-ID block of Tally: atoms, the message types, the domain
// error enum, and every typed actor interface with one line per handler.
//
// Only actors/ and persistence/ include this header (http/ sees the gateway).
// Every data type here gets its CAF inspect() from its one field list
// (protocols/fields.hpp), the same list its msgpack codec comes from.
// The only type CAF cannot inspect is `completion` (protocols/commands.hpp),
// where a command's reply goes: it carries a callback into the HTTP layer,
// stays in this process, and is marked CAF_ALLOW_UNSAFE_MESSAGE_TYPE at the
// end of this file. Node-to-node
// messages (cluster issue) use the msgpack codec (protocols/wire.hpp), not
// CAF's serialisation.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "caf/detail/scope_guard.hpp"
#include "caf/error.hpp"
#include "caf/fwd.hpp"
#include "caf/meta/load_callback.hpp"
#include "caf/optional.hpp"
#include "caf/replies_to.hpp"
#include "caf/type_id.hpp"
#include "caf/typed_actor.hpp"

#include "protocols/auth.hpp"
#include "protocols/commands.hpp"
#include "protocols/credits.hpp"
#include "protocols/error_code.hpp"
#include "protocols/fields.hpp"
#include "protocols/records.hpp"
#include "protocols/reply.hpp"
#include "protocols/uuid.hpp"

namespace boost::uuids {
/// CAF inspect for UUIDs (found by argument-dependent lookup): 16 bytes.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, uuid& id) {
  return f(id.data);
}
} // namespace boost::uuids

namespace tally {

/// A std::optional field as CAF 0.17 inspects its own caf::optional: a
/// presence flag, then the value if present.
template <class T>
struct optional_field {
  std::optional<T>& value;
};

template <class Inspector, class T>
typename Inspector::result_type inspect(Inspector& f, optional_field<T>& x) {
  if constexpr (Inspector::writes_state) {
    bool present = false;
    T loaded{};
    caf::optional_inspect_helper<T> helper{present, loaded};
    auto assign = caf::detail::make_scope_guard([&] {
      if (present)
        x.value = std::move(loaded);
      else
        x.value.reset();
    });
    return f(present, helper);
  } else {
    return x.value ? f(true, *x.value) : f(false);
  }
}

template <class T>
T& inspectable(T& field) {
  return field;
}

template <class T>
optional_field<T> inspectable(std::optional<T>& field) {
  return {field};
}

/// CAF inspect for every type with a field list (protocols/fields.hpp).
template <class Inspector, class T>
std::enable_if_t<has_fields_v<T>, typename Inspector::result_type> inspect(Inspector& f, T& x) {
  return fields(x, [&f](auto&... xs) { return f(inspectable(xs)...); });
}

/// The alternative a variant holds, for inspecting it after its index.
template <class Variant>
struct active_alternative {
  Variant& value;
};

template <class Inspector, class Variant>
typename Inspector::result_type inspect(Inspector& f, active_alternative<Variant>& x) {
  return std::visit([&f](auto& alternative) { return f(alternative); }, x.value);
}

template <class... Ts, size_t... Is>
void emplace_alternative(std::variant<Ts...>& x, uint32_t index, std::index_sequence<Is...>) {
  ((index == Is ? (void)x.template emplace<Is>() : (void)0), ...);
}

/// A command variant as CAF inspects it: its index, then (when loading,
/// once the index is known) that alternative.
template <class Inspector, class... Ts>
typename Inspector::result_type inspect_variant(Inspector& f, std::variant<Ts...>& x) {
  auto index = static_cast<uint32_t>(x.index());
  active_alternative<std::variant<Ts...>> active{x};
  auto select = caf::meta::load_callback([&]() -> caf::error {
    if (index >= sizeof...(Ts)) return caf::sec::invalid_argument;
    emplace_alternative(x, index, std::index_sequence_for<Ts...>{});
    return {};
  });
  return f(index, select, active);
}

/// Every command (of every kind) as CAF inspects it.
template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, entity_command& x) {
  return inspect_variant(f, x);
}

/// The commands of one kind (an alternative of entity_command).
template <class Inspector, class... Commands>
std::enable_if_t<(has_fields_v<Commands> && ...), typename Inspector::result_type>
inspect(Inspector& f, std::variant<Commands...>& x) {
  return inspect_variant(f, x);
}

struct entity_write;
struct idempotency_lookup;
struct magic_link_lookup;
struct session_lookup;
struct refresh_token_lookup;
struct ip_verdict;
struct tenant_lookup;
struct subdomain_lookup;
struct membership_list;
struct webhook_event_lookup;
struct payment_lookup;

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
using challenge_reply = reply<login_challenge>;
using grant_reply = reply<session_grant>;
using me_reply = reply<me_view>;
using logout_reply = reply<bool>;
using generation_created_reply = reply<mutation_reply<generation_created>>;
using generation_reply = reply<generation_row>;
using generation_page_reply = reply<generation_page>;
using webhook_reply = reply<webhook_outcome>;
using webhook_view_reply = reply<webhook_event_view>;
using topup_reply = reply<topup_result>;

} // namespace tally

// Atom texts carry a prefix so they never equal one of CAF's own atoms
// ("flush", "idle", "tick" exist in caf::).
CAF_BEGIN_TYPE_ID_BLOCK(tally, caf::first_custom_type_id)
  CAF_ADD_TYPE_ID(tally, (tally::uuid))
  CAF_ADD_TYPE_ID(tally, (tally::ledger_query))
  CAF_ADD_TYPE_ID(tally, (tally::user_snapshot))
  CAF_ADD_TYPE_ID(tally, (tally::entity_write))
  CAF_ADD_TYPE_ID(tally, (tally::idempotency_lookup))
  CAF_ADD_TYPE_ID(tally, (tally::identity_kind))
  CAF_ADD_TYPE_ID(tally, (tally::identity_snapshot))
  CAF_ADD_TYPE_ID(tally, (tally::magic_link_lookup))
  CAF_ADD_TYPE_ID(tally, (tally::session_lookup))
  CAF_ADD_TYPE_ID(tally, (tally::refresh_token_lookup))
  CAF_ADD_TYPE_ID(tally, (tally::ip_verdict))
  CAF_ADD_TYPE_ID(tally, (tally::tenant_lookup))
  CAF_ADD_TYPE_ID(tally, (tally::subdomain_lookup))
  CAF_ADD_TYPE_ID(tally, (tally::membership_list))
  // Commands (protocols/commands.hpp) and their completion.
  CAF_ADD_TYPE_ID(tally, (tally::entity_command))
  CAF_ADD_TYPE_ID(tally, (tally::completion))
  // Generations (a page query, user -> reader).
  CAF_ADD_TYPE_ID(tally, (tally::generation_query))
  // Payment webhooks (reader answers).
  CAF_ADD_TYPE_ID(tally, (tally::webhook_event_lookup))
  CAF_ADD_TYPE_ID(tally, (tally::payment_lookup))

  // A committed ledger page (user -> reader).
  CAF_ADD_ATOM(tally, tally, ledger_atom, "t_ledger")
  // Per-client-IP limit (identity -> ip limiter).
  CAF_ADD_ATOM(tally, tally, ip_check_atom, "t_ipcheck")
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
  CAF_ADD_ATOM(tally, tally, load_identity_atom, "t_loadid")
  CAF_ADD_ATOM(tally, tally, find_link_atom, "t_findlink")
  CAF_ADD_ATOM(tally, tally, find_session_atom, "t_findsess")
  CAF_ADD_ATOM(tally, tally, find_refresh_atom, "t_findref")
  // Whether an identity row exists (login gate -> reader).
  CAF_ADD_ATOM(tally, tally, probe_identity_atom, "t_probeid")
  // Generations (user -> reader; the sweeper's ticks and start-up recovery).
  CAF_ADD_ATOM(tally, tally, generation_atom, "t_gen")
  CAF_ADD_ATOM(tally, tally, generations_atom, "t_gens")
  CAF_ADD_ATOM(tally, tally, generation_sweep_atom, "t_gsweep")
  CAF_ADD_ATOM(tally, tally, generation_recover_atom, "t_grecover")
  // Tenants (tenant, subdomain, user -> reader).
  CAF_ADD_ATOM(tally, tally, load_tenant_atom, "t_loadten")
  CAF_ADD_ATOM(tally, tally, load_subdomain_atom, "t_loadsub")
  CAF_ADD_ATOM(tally, tally, find_memberships_atom, "t_findmem")
  // Payment webhooks (webhook event / user -> reader).
  CAF_ADD_ATOM(tally, tally, find_webhook_atom, "t_findwh")
  CAF_ADD_ATOM(tally, tally, find_payment_atom, "t_findpay")
  // Cluster membership and shard leases (lease keeper <-> registry).
  CAF_ADD_ATOM(tally, tally, shard_lost_atom, "t_shlost")
  CAF_ADD_ATOM(tally, tally, shard_drain_atom, "t_shdrain")
  CAF_ADD_ATOM(tally, tally, shard_drain_check_atom, "t_shdrchk")
  CAF_ADD_ATOM(tally, tally, lease_tick_atom, "t_ltick")
  CAF_ADD_ATOM(tally, tally, routing_tick_atom, "t_rtick")
  CAF_ADD_ATOM(tally, tally, lease_leave_atom, "t_lleave")
  // Cluster routing: a command that arrived from another node (served here
  // or refused, never forwarded again).
  CAF_ADD_ATOM(tally, tally, local_only_atom, "t_local")
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

/// Answer of a magic-link lookup by token hash.
struct magic_link_lookup {
  std::optional<magic_link_row> link;
};

/// Answer of a session lookup (revoked and expired sessions included).
struct session_lookup {
  std::optional<session_row> session;
};

/// Answer of a refresh-token lookup by hash.
struct refresh_token_lookup {
  std::optional<refresh_token_row> token;
};

/// A per-client-IP limiter's answer for one event.
struct ip_verdict {
  bool allowed = false;
  /// When refused: microseconds until the IP may try again.
  int64_t retry_after_us = 0;
};

/// Answer of a tenant load (nullopt: no such tenant).
struct tenant_lookup {
  std::optional<tenant_snapshot> tenant;
};

/// Answer of a subdomain load: who holds the name (nil: nobody).
struct subdomain_lookup {
  uuid holder{};
};

/// A user's tenants with roles, as /v1/auth/me lists them.
struct membership_list {
  std::vector<membership_view> tenants;
};

TALLY_FIELDS(tenant_lookup, x.tenant)
TALLY_FIELDS(subdomain_lookup, x.holder)
TALLY_FIELDS(membership_list, x.tenants)
TALLY_FIELDS(entity_write, x.entity, x.epoch, x.token, x.listener, x.records)
TALLY_FIELDS(idempotency_lookup, x.record)
TALLY_FIELDS(magic_link_lookup, x.link)
TALLY_FIELDS(session_lookup, x.session)
TALLY_FIELDS(refresh_token_lookup, x.token)
TALLY_FIELDS(ip_verdict, x.allowed, x.retry_after_us)

/// Answer of a webhook-event lookup by key.
struct webhook_event_lookup {
  std::optional<webhook_event_row> row;
};

/// Answer of a payment-object lookup by key.
struct payment_lookup {
  std::optional<payment_row> payment;
};

TALLY_FIELDS(webhook_event_lookup, x.row)
TALLY_FIELDS(payment_lookup, x.payment)

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
  // A committed ledger page, delivered straight to the completion.
  caf::reacts_to<ledger_atom, uuid, ledger_query, completion>,
  // One stored idempotency record created after `since`, if any.
  caf::replies_to<lookup_atom, uuid, std::string, timestamp_us>::with<idempotency_lookup>,
  // Activation: load (creating if missing, and fence) an identity of `kind` and `value` at `now`.
  caf::replies_to<load_identity_atom, uuid, identity_kind, std::string,
                  timestamp_us>::with<identity_snapshot>,
  // A magic link by token hash, used or not.
  caf::replies_to<find_link_atom, std::string>::with<magic_link_lookup>,
  // A session of (user, session), revoked and expired ones too.
  caf::replies_to<find_session_atom, uuid, uuid>::with<session_lookup>,
  // A refresh token ever issued, by hash.
  caf::replies_to<find_refresh_atom, std::string>::with<refresh_token_lookup>,
  // Whether an identity row exists (grouped with other probes into one read).
  caf::replies_to<probe_identity_atom, uuid>::with<bool>,
  // One generation of (user, generation), delivered straight to the completion.
  caf::reacts_to<generation_atom, uuid, uuid, completion>,
  // A page of a user's generations, delivered straight to the completion.
  caf::reacts_to<generations_atom, uuid, generation_query, completion>,
  // Activation: load (and fence) a tenant with its members and newest subscription.
  caf::replies_to<load_tenant_atom, uuid>::with<tenant_lookup>,
  // Activation: who holds the subdomain `name`.
  caf::replies_to<load_subdomain_atom, std::string>::with<subdomain_lookup>,
  // A user's tenants with roles (/v1/auth/me, loaded once per activation).
  caf::replies_to<find_memberships_atom, uuid>::with<membership_list>,
  // A payment event's dedupe record, by webhook_event_key.
  caf::replies_to<find_webhook_atom, uuid>::with<webhook_event_lookup>,
  // A payment object that topped up, by payment_object_key.
  caf::replies_to<find_payment_atom, uuid>::with<payment_lookup>,
  // (self) Serve the queued loads and lookups with as few store calls as possible.
  caf::reacts_to<flush_atom>>;

/// One shard of the per-client-IP limiter (actors/ip_limiter.hpp).
using ip_limiter_actor = caf::typed_actor<
  // Count one event of this client IP, if its limit allows it.
  caf::replies_to<ip_check_atom, std::string>::with<ip_verdict>>;

/// Every entity actor, of every kind: commands (of its kind; it refuses
/// another kind's as a bug) and what every kind shares (the writer's
/// reports, the registry's lifecycle handshake; actors/lifecycle.hpp). A new
/// kind declares no handler list, type ID or inspect of its own.
using entity_actor = caf::typed_actor<
  // A command (protocols/commands.hpp) and where its reply goes.
  caf::reacts_to<entity_command, completion>,
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

/// One user: credits, ledger head, idempotency keys and sessions
/// (actors/user.hpp). Every command naming a session checks it first.
using user_actor = entity_actor;

/// One email address or phone number that can log in: its user link, its
/// magic links, its phone code and its request limit (actors/identity.hpp).
using identity_actor = entity_actor;

/// One tenant: members and roles, active module, subdomain, subscription
/// (actors/tenant.hpp). Every command passes its one access decision.
using tenant_actor = entity_actor;

/// One subdomain name: who holds it, who has it reserved (actors/subdomain.hpp).
using subdomain_actor = entity_actor;

/// One payment event id: its deliveries and dedupe record (actors/webhook_event.hpp).
using webhook_event_actor = entity_actor;

/// (kind, key) -> entity actor, with lazy activation and passivation
/// (actors/registry.hpp). Activation numbers are unique across kinds, so
/// idle/down/synced need not name the kind.
using registry_actor = caf::typed_actor<
  // Route a command to the entity of its kind with this key (activating it first).
  caf::reacts_to<uuid, entity_command, completion>,
  // Entity `activation` has handled `handled` registry messages and is idle.
  caf::reacts_to<idle_atom, uuid, uint64_t, uint64_t>,
  // Entity `activation` has terminated.
  caf::reacts_to<user_down_atom, uuid, uint64_t>,
  // Entity `activation` handled everything forwarded before the drain's sync.
  caf::reacts_to<synced_atom, uuid, uint64_t>,
  // Refuse new commands; true once every entity sent a mutation has handled it.
  caf::replies_to<drain_atom>::with<bool>,
  // Tell every entity to quit, then quit.
  caf::replies_to<stop_atom>::with<bool>,
  // (self) Periodic: query entities that got no command for passivate_after.
  caf::reacts_to<passivate_sweep_atom>,
  // Cluster: these shards are no longer served here; passivate their entities now.
  caf::replies_to<shard_lost_atom, std::vector<int32_t>>::with<bool>,
  // Cluster hand-off: true once every entity of these shards committed what
  // it was sent and was passivated (false: some were forced at the deadline).
  caf::replies_to<shard_drain_atom, std::vector<int32_t>>::with<bool>,
  // (self) Periodic while a shard drain is open: ask its entities again.
  caf::reacts_to<shard_drain_check_atom>,
  // A command from another node: served here or not_shard_owner, never forwarded.
  caf::reacts_to<local_only_atom, uuid, entity_command, completion>>;

/// The front door of anonymous auth commands (actors/login_gate.hpp): per-IP
/// limits and unknown identities refused before the registry sees them.
using login_gate_actor = caf::typed_actor<
  // An anonymous auth command for the entity with this key.
  caf::reacts_to<uuid, entity_command, completion>,
  // Writer: its sampled audit rows are committed (nothing waits for them).
  caf::reacts_to<committed_atom, uint64_t>,
  // Writer: a sampled audit row was lost.
  caf::reacts_to<write_failed_atom, uint64_t>>;

/// Adds the type-ID block and the "tally" error category to a CAF config
/// (defined in actors/caf_registration.cpp). Call once before creating the
/// actor_system.
void register_caf_types(caf::actor_system_config& config);

/// The domain code inside a CAF error; CAF's own errors (a dead receiver,
/// a dropped request) become `fallback`.
error_code to_error_code(const caf::error& error, error_code fallback);

} // namespace tally

// The completion: a callback into the HTTP layer, local to this process by
// nature (protocols/commands.hpp). The only message type CAF cannot inspect.
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tally::completion)
