#include "actors/registry.hpp"

#include <algorithm>
#include <utility>

#include <prometheus/gauge.h>

#include "caf/all.hpp"

#include "actors/identity.hpp"
#include "actors/user.hpp"

namespace tally {

namespace {

using registry_pointer = registry_actor::stateful_pointer<registry_state>;

failure shutting_down() {
  return {error_code::shutting_down, "the service is shutting down", 1};
}

void publish_counts(registry_state& st) {
  if (st.gauges.users) st.gauges.users->Set(static_cast<double>(st.users.size()));
  if (st.gauges.identities) st.gauges.identities->Set(static_cast<double>(st.identities.size()));
}

const reader_actor& next_reader(registry_state& st) {
  return st.readers[st.next_reader++ % st.readers.size()];
}

/// Spawns an entity with `spawn(me, activation, reader)`, and a monitor whose
/// notification names the entity and its incarnation, so the registry needs
/// no reverse (actor -> uuid) map.
template <class Handle, class Spawn>
entity_entry<Handle>& activate(registry_pointer self, entity_table<Handle>& table, const uuid& id,
                               Spawn&& spawn) {
  if (auto* found = table.find(id)) return *found;
  auto& st = self->state;
  auto activation = ++st.last_activation;
  auto me = caf::actor_cast<registry_actor>(self);
  Handle handle = spawn(me, activation, next_reader(st));
  handle->attach_functor([me, id, activation] {
    caf::anon_send(me, user_down_atom_v, id, activation);
  });
  auto& entry = table.insert(id, std::move(handle), activation);
  publish_counts(st);
  return entry;
}

entity_entry<user_actor>& activate_user(registry_pointer self, const uuid& id) {
  return activate(self, self->state.users, id,
                  [&](registry_actor me, uint64_t activation, const reader_actor& reader) {
                    return self->spawn(user_behavior, id, activation, me, reader,
                                       self->state.context);
                  });
}

entity_entry<identity_actor>& activate_identity(registry_pointer self, const uuid& id) {
  return activate(self, self->state.identities, id,
                  [&](registry_actor me, uint64_t activation, const reader_actor& reader) {
                    return self->spawn(identity_behavior, id, activation, me, reader,
                                       self->state.context);
                  });
}

template <class Handle, class... Ts>
void send_to(registry_pointer self, entity_entry<Handle>& entry, bool mutation, Ts&&... xs) {
  ++entry.forwarded;
  entry.last_forward = self->clock().now();
  entry.wrote = entry.wrote || mutation;
  self->send(entry.handle, std::forward<Ts>(xs)...);
}

/// Forwards a command to a user; `done` answers shutting_down while draining.
template <class Reply, class... Ts>
void to_user(registry_pointer self, const uuid& id, bool mutation, Reply& done, Ts&&... xs) {
  if (self->state.refusing) {
    done(shutting_down());
    return;
  }
  send_to(self, activate_user(self, id), mutation, std::forward<Ts>(xs)..., std::move(done));
}

/// Forwards a command to an identity; every identity command may write.
template <class Reply, class... Ts>
void to_identity(registry_pointer self, const uuid& id, Reply& done, Ts&&... xs) {
  if (self->state.refusing) {
    done(shutting_down());
    return;
  }
  send_to(self, activate_identity(self, id), true, std::forward<Ts>(xs)..., std::move(done));
}

template <class Handle>
void sweep_table(registry_pointer self, entity_table<Handle>& table) {
  auto now = self->clock().now();
  const auto passivate_after = self->state.context->passivate_after;
  for (auto& [id, entry] : table)
    if (now - entry.last_forward >= passivate_after) self->send(entry.handle, idle_query_atom_v);
}

void sweep(registry_pointer self) {
  sweep_table(self, self->state.users);
  sweep_table(self, self->state.identities);
  self->delayed_send(self, passivation_sweep_interval(self->state.context->passivate_after),
                     passivate_sweep_atom_v);
}

void settle_drain(registry_state& st) {
  if (st.drain_promise && st.awaiting_sync.empty()) {
    st.drain_promise->deliver(true);
    st.drain_promise.reset();
  }
}

void forget_sync(registry_state& st, const uuid& id, uint64_t activation) {
  auto waiting = st.awaiting_sync.find(id);
  if (waiting != st.awaiting_sync.end() && waiting->second == activation) {
    st.awaiting_sync.erase(waiting);
    settle_drain(st);
  }
}

/// Drops the mapping (of either kind) if it still names this incarnation.
void forget_entity(registry_state& st, const uuid& id, uint64_t activation) {
  if (!st.users.forget(id, activation) && !st.identities.forget(id, activation)) return;
  publish_counts(st);
  forget_sync(st, id, activation);
}

/// The idle handshake for one table; false if the entity is not in it.
template <class Handle>
bool settle_idle(registry_pointer self, entity_table<Handle>& table, const uuid& id,
                 uint64_t activation, uint64_t handled) {
  auto* entry = table.find(id, activation);
  if (entry == nullptr) return false;
  if (entry->forwarded != handled) return true;  // a message is still in transit
  self->send(entry->handle, passivate_atom_v);
  forget_entity(self->state, id, activation);
  return true;
}

/// drain: ask every entity that was sent a mutation to confirm it handled it.
template <class Handle>
void sync_table(registry_pointer self, entity_table<Handle>& table) {
  for (auto& [id, entry] : table) {
    if (!entry.wrote) continue;
    ++entry.forwarded;
    self->send(entry.handle, sync_atom_v);
    self->state.awaiting_sync.emplace(id, entry.activation);
  }
}

template <class Handle>
void passivate_all(registry_pointer self, entity_table<Handle>& table) {
  for (auto& [id, entry] : table) self->send(entry.handle, passivate_atom_v);
  table.clear();
}

} // namespace

caf::timespan passivation_sweep_interval(caf::timespan passivate_after) {
  return std::clamp(passivate_after / passivation_sweeps_per_period, passivation_sweep_min,
                    passivation_sweep_max);
}

registry_actor::behavior_type registry_behavior(registry_pointer self,
                                                std::vector<reader_actor> readers,
                                                const entity_context* context,
                                                registry_gauges gauges) {
  auto& st = self->state;
  st.readers = std::move(readers);
  st.context = context;
  st.gauges = gauges;
  publish_counts(st);
  self->delayed_send(self, passivation_sweep_interval(context->passivate_after),
                     passivate_sweep_atom_v);
  return {
    // -- users ---------------------------------------------------------------------
    [self](balance_atom atom, const caller& who, balance_reply& done) {
      to_user(self, who.user, false, done, atom, who.session);
    },
    [self](ledger_atom atom, const caller& who, ledger_query& query, ledger_reply& done) {
      to_user(self, who.user, false, done, atom, who.session, std::move(query));
    },
    [self](charge_atom atom, const caller& who, charge_command& cmd, charge_reply& done) {
      to_user(self, who.user, true, done, atom, who.session, std::move(cmd));
    },
    [self](me_atom atom, const caller& who, me_reply& done) {
      to_user(self, who.user, false, done, atom, who.session);
    },
    [self](logout_atom atom, const caller& who, request_origin& origin, logout_reply& done) {
      to_user(self, who.user, true, done, atom, who.session, std::move(origin));
    },
    [self](refresh_atom atom, const caller& route, std::string& token, request_origin& origin,
           grant_reply& done) {
      to_user(self, route.user, true, done, atom, route.session, std::move(token),
              std::move(origin));
    },
    [self](credit_atom atom, const uuid& id, credit_command& cmd, credit_reply& done) {
      to_user(self, id, true, done, atom, std::move(cmd));
    },
    [self](open_session_atom atom, const uuid& id, std::string& method, request_origin& origin,
           grant_reply& done) {
      to_user(self, id, true, done, atom, std::move(method), std::move(origin));
    },
    // -- identities ------------------------------------------------------------------
    [self](magic_link_atom atom, const uuid& id, std::string& email, request_origin& origin,
           challenge_reply& done) {
      to_identity(self, id, done, atom, std::move(email), std::move(origin));
    },
    [self](verify_link_atom atom, const uuid& id, std::string& token, request_origin& origin,
           grant_reply& done) {
      to_identity(self, id, done, atom, std::move(token), std::move(origin));
    },
    [self](code_atom atom, const uuid& id, std::string& phone, request_origin& origin,
           challenge_reply& done) {
      to_identity(self, id, done, atom, std::move(phone), std::move(origin));
    },
    [self](verify_code_atom atom, const uuid& id, std::string& phone, std::string& code,
           request_origin& origin, grant_reply& done) {
      to_identity(self, id, done, atom, std::move(phone), std::move(code),
                  std::move(origin));
    },
    // -- lifecycle -------------------------------------------------------------------
    [self](idle_atom, const uuid& id, uint64_t activation, uint64_t handled) {
      auto& st = self->state;
      if (!settle_idle(self, st.users, id, activation, handled))
        settle_idle(self, st.identities, id, activation, handled);
    },
    [self](user_down_atom, const uuid& id, uint64_t activation) {
      forget_entity(self->state, id, activation);
    },
    [self](synced_atom, const uuid& id, uint64_t activation) {
      forget_sync(self->state, id, activation);
    },
    [self](drain_atom) -> caf::result<bool> {
      auto& st = self->state;
      st.refusing = true;
      if (st.drain_promise) return false;  // one drain at a time
      // Mailboxes are FIFO per sender: once an entity answers this sync it
      // has handled every command forwarded before it, so its records are
      // with the writer. Entities that were only read from have nothing to
      // flush (their reads are answered before stop's passivate reaches them).
      sync_table(self, st.users);
      sync_table(self, st.identities);
      if (st.awaiting_sync.empty()) return true;
      st.drain_promise = self->make_response_promise<bool>();
      return *st.drain_promise;
    },
    [self](stop_atom) -> caf::result<bool> {
      auto& st = self->state;
      st.refusing = true;
      passivate_all(self, st.users);
      passivate_all(self, st.identities);
      publish_counts(st);
      st.awaiting_sync.clear();
      if (st.drain_promise) {
        st.drain_promise->deliver(false);
        st.drain_promise.reset();
      }
      self->quit();
      return true;
    },
    [self](passivate_sweep_atom) { sweep(self); },
  };
}

} // namespace tally
