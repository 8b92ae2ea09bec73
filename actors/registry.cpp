#include "actors/registry.hpp"

#include <algorithm>
#include <utility>

#include <prometheus/gauge.h>

#include "caf/all.hpp"

namespace tally {

namespace {

using registry_pointer = registry_actor::stateful_pointer<registry_state>;

failure shutting_down() {
  return {error_code::shutting_down, "the service is shutting down", 1};
}

void publish_count(registry_state& st) {
  if (st.active_users) st.active_users->Set(static_cast<double>(st.users.size()));
}

registry_entry& activate(registry_pointer self, const uuid& id) {
  auto& st = self->state;
  auto found = st.users.find(id);
  if (found != st.users.end()) return found->second;
  auto activation = ++st.last_activation;
  const auto& reader = st.readers[st.next_reader++ % st.readers.size()];
  auto me = caf::actor_cast<registry_actor>(self);
  auto handle = self->spawn(user_behavior, id, activation, me, reader, st.context);
  // A monitor whose notification names the user and its incarnation, so the
  // registry needs no reverse (actor -> uuid) map.
  handle->attach_functor([me, id, activation] {
    caf::anon_send(me, user_down_atom_v, id, activation);
  });
  auto& entry = st.users[id];
  entry = registry_entry{std::move(handle), activation, 0};
  publish_count(st);
  return entry;
}

template <class... Ts>
void forward(registry_pointer self, const uuid& id, Ts&&... xs) {
  auto& entry = activate(self, id);
  ++entry.forwarded;
  entry.last_forward = self->clock().now();
  self->send(entry.handle, std::forward<Ts>(xs)...);
}

template <class... Ts>
void forward_mutation(registry_pointer self, const uuid& id, Ts&&... xs) {
  auto& entry = activate(self, id);
  entry.wrote = true;
  forward(self, id, std::forward<Ts>(xs)...);
}

void sweep(registry_pointer self) {
  auto& st = self->state;
  auto now = self->clock().now();
  const auto passivate_after = st.context->passivate_after;
  for (auto& [id, entry] : st.users)
    if (now - entry.last_forward >= passivate_after) self->send(entry.handle, idle_query_atom_v);
  self->delayed_send(self, passivation_sweep_interval(passivate_after), passivate_sweep_atom_v);
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

/// Drops the mapping if it still names this incarnation.
bool forget_user(registry_state& st, const uuid& id, uint64_t activation) {
  auto found = st.users.find(id);
  if (found == st.users.end() || found->second.activation != activation) return false;
  st.users.erase(found);
  publish_count(st);
  forget_sync(st, id, activation);
  return true;
}

} // namespace

caf::timespan passivation_sweep_interval(caf::timespan passivate_after) {
  return std::clamp(passivate_after / passivation_sweeps_per_period, passivation_sweep_min,
                    passivation_sweep_max);
}

registry_actor::behavior_type registry_behavior(registry_pointer self,
                                                std::vector<reader_actor> readers,
                                                const user_context* context,
                                                prometheus::Gauge* active_users) {
  auto& st = self->state;
  st.readers = std::move(readers);
  st.context = context;
  st.active_users = active_users;
  publish_count(st);
  self->delayed_send(self, passivation_sweep_interval(context->passivate_after),
                     passivate_sweep_atom_v);
  return {
    [self](balance_atom atom, const uuid& id, balance_reply& done) {
      if (self->state.refusing)
        done(shutting_down());
      else
        forward(self, id, atom, std::move(done));
    },
    [self](ledger_atom atom, const uuid& id, ledger_query& query, ledger_reply& done) {
      if (self->state.refusing)
        done(shutting_down());
      else
        forward(self, id, atom, std::move(query), std::move(done));
    },
    [self](charge_atom atom, const uuid& id, charge_command& cmd, charge_reply& done) {
      if (self->state.refusing)
        done(shutting_down());
      else
        forward_mutation(self, id, atom, std::move(cmd), std::move(done));
    },
    [self](credit_atom atom, const uuid& id, credit_command& cmd, credit_reply& done) {
      if (self->state.refusing)
        done(shutting_down());
      else
        forward_mutation(self, id, atom, std::move(cmd), std::move(done));
    },
    [self](idle_atom, const uuid& id, uint64_t activation, uint64_t handled) {
      auto& st = self->state;
      auto found = st.users.find(id);
      if (found == st.users.end() || found->second.activation != activation) return;
      if (found->second.forwarded != handled) return;  // a message is still in transit
      self->send(found->second.handle, passivate_atom_v);
      forget_user(st, id, activation);
    },
    [self](user_down_atom, const uuid& id, uint64_t activation) {
      forget_user(self->state, id, activation);
    },
    [self](synced_atom, const uuid& id, uint64_t activation) {
      forget_sync(self->state, id, activation);
    },
    [self](drain_atom) -> caf::result<bool> {
      auto& st = self->state;
      st.refusing = true;
      if (st.drain_promise) return false;  // one drain at a time
      // Mailboxes are FIFO per sender: once a user answers this sync it has
      // handled every command forwarded before it, so its records are with
      // the writer. Users that were only read from have nothing to flush
      // (their reads are answered before stop's passivate reaches them).
      for (auto& [id, entry] : st.users) {
        if (!entry.wrote) continue;
        ++entry.forwarded;
        self->send(entry.handle, sync_atom_v);
        st.awaiting_sync.emplace(id, entry.activation);
      }
      if (st.awaiting_sync.empty()) return true;
      st.drain_promise = self->make_response_promise<bool>();
      return *st.drain_promise;
    },
    [self](stop_atom) -> caf::result<bool> {
      auto& st = self->state;
      st.refusing = true;
      for (auto& [id, entry] : st.users) self->send(entry.handle, passivate_atom_v);
      st.users.clear();
      publish_count(st);
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
