#pragma once
// The entity's side of the lifecycle handshake with the registry, shared by
// user and identity actors (the registry's side: actors/entity_table.hpp,
// diagram in actors/registry.hpp).
//
// An entity's state provides: id, activation, handled (registry messages
// handled), registry, and three predicates:
//   retiring()        it answers every command with an error until retired;
//   idle_now()        active with nothing pending: it may be passivated;
//   can_retire_now()  no store answer can still come back to it.
#include <cstdint>
#include <string_view>
#include <utility>

#include "caf/send.hpp"

#include "protocols/caf_types.hpp"
#include "protocols/invariant.hpp"
#include "protocols/log.hpp"

namespace tally {

/// Fills the fields every entity state shares, at spawn.
template <class State, class Context>
void init_entity_state(State& st, const uuid& id, uint64_t activation, registry_actor registry,
                       reader_actor reader, const Context* context) {
  st.id = id;
  st.activation = activation;
  st.context = context;
  st.registry = std::move(registry);
  st.reader = std::move(reader);
}

/// Offers to go: the registry accepts if it forwarded exactly `handled`.
template <class Self>
void offer_idle(Self self) {
  auto& st = self->state;
  self->send(st.registry, idle_atom_v, st.id, st.activation, st.handled);
}

/// Retirement handshake: only when no lookup can still come back.
template <class Self>
void ask_retirement(Self self) {
  if (self->state.can_retire_now()) offer_idle(self);
}

/// Counts a message the registry forwarded.
template <class Self>
void begin_registry_message(Self self) {
  ++self->state.handled;
}

/// A retiring entity repeats its request after every registry message: the
/// registry accepts once nothing it forwarded is still in transit.
template <class Self>
void end_registry_message(Self self) {
  if (self->state.retiring()) ask_retirement(self);
}

/// The registry's sweep found it without commands for passivate_after.
/// Busy (uncommitted writes, a lookup in flight): it stays and the registry
/// asks again on a later sweep. Otherwise it offers to go; the registry
/// declines if a command is still on its way here.
template <class Self>
void answer_idle_query(Self self) {
  auto& st = self->state;
  if (st.retiring())
    ask_retirement(self);
  else if (st.idle_now())
    offer_idle(self);
}

/// Handles one command the registry forwarded to an entity whose commands
/// are `Commands` (its kind's alternative of entity_command): `handle(
/// command, reply)` is called with the command and the reply its completion
/// carries (dispatch pairs them; the registry routes by kind: a mismatch of
/// either is a bug).
template <class Commands, class Self, class Handle>
void handle_command(Self self, entity_command& command, completion& done, Handle&& handle) {
  begin_registry_message(self);
  auto* commands = std::get_if<Commands>(&command);
  TALLY_INVARIANT(commands != nullptr, "the registry routes a command to its kind",
                  to_string(self->state.id));
  std::visit(
    [&](auto& command) {
      auto answer = reply_for<std::decay_t<decltype(command)>>(done);
      TALLY_INVARIANT(answer.valid(), "a command's completion carries its result type",
                      to_string(self->state.id));
      handle(command, std::move(answer));
    },
    *commands);
  end_registry_message(self);
}

/// A failure continuation that answers `done` with the failure (for the
/// steps a command waits on: a session check, an activation).
template <class T>
auto fail_to(reply<T> done) {
  return [done](const failure& why) { done(why); };
}

/// The writer committed every write up to `token` of an entity whose
/// pending writes carry `on_commit` callbacks (identity_write, tenant_write).
template <class Self>
void deliver_committed(Self self, uint64_t token) {
  auto& st = self->state;
  if (st.retiring()) return;
  for (auto& pending : st.writes.take_committed(token, st.id)) pending.on_commit();
}

/// A write failed for good: logged (`id_field` names the entity's id in
/// the log line), then `retire(self)` fails what is owed and hands the
/// actor back to the registry.
template <class Self, class Retire>
void retire_after_failed_write(Self self, uint64_t token, const char* message,
                               std::string_view id_field, Retire retire) {
  auto& st = self->state;
  if (st.retiring()) return;
  log_event(log_level::warn, message,
            {{id_field, std::string_view(to_string(st.id))}, {"token", static_cast<int64_t>(token)}});
  retire(self);
}

/// The behaviour every entity kind returns: its commands (of `Commands`,
/// its alternative of entity_command) to `handle(command, reply)`, the
/// writer's reports to `on_committed(token)` / `on_write_failed(token)`,
/// and the registry's handshake.
template <class Commands, class Self, class Handle, class OnCommitted, class OnWriteFailed>
entity_actor::behavior_type entity_handlers(Self self, Handle handle, OnCommitted on_committed,
                                            OnWriteFailed on_write_failed) {
  return {
    [self, handle](entity_command& command, completion& done) {
      handle_command<Commands>(self, command, done, handle);
    },
    [on_committed](committed_atom, uint64_t token) { on_committed(token); },
    [on_write_failed](write_failed_atom, uint64_t token) { on_write_failed(token); },
    [self](idle_query_atom) { answer_idle_query(self); },
    [self](sync_atom) { answer_sync(self); },
    [self](passivate_atom) { self->quit(); },
  };
}

/// For kinds whose pending writes are callbacks (`on_commit`, `on_fail`:
/// identity, webhook event): the writer committed up to `token`, so what
/// each committed write owes runs, oldest first.
template <class Self>
void run_committed_callbacks(Self self, uint64_t token) {
  auto& st = self->state;
  if (st.retiring()) return;
  for (auto& pending : st.writes.take_committed(token, st.id)) pending.on_commit();
}

/// A write failed for good: logged, then `retire(self)` (memory must not
/// run ahead of the store; the next command reloads). `kind` names the
/// entity in the log line.
template <class Self, class Retire>
void retire_after_write_failure(Self self, uint64_t token, std::string_view kind, Retire&& retire) {
  auto& st = self->state;
  if (st.retiring()) return;
  log_event(log_level::warn, "write failed; entity reloads from the store",
            {{"kind", kind},
             {"entity_id", std::string_view(to_string(st.id))},
             {"token", static_cast<int64_t>(token)}});
  retire(self);
}

/// drain: everything the registry forwarded before this sync is handled.
template <class Self>
void answer_sync(Self self) {
  begin_registry_message(self);
  auto& st = self->state;
  self->send(st.registry, synced_atom_v, st.id, st.activation);
  end_registry_message(self);
}

} // namespace tally
