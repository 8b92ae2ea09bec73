#include "actors/registry.hpp"

#include <algorithm>
#include <tuple>
#include <utility>

#include <prometheus/gauge.h>

#include "caf/all.hpp"

#include "actors/command_routing.hpp"

namespace tally {

namespace {

using registry_pointer = registry_actor::stateful_pointer<registry_state>;

failure shutting_down() {
  return {error_code::shutting_down, "the service is shutting down", 1};
}

/// Calls `f(table)` for every kind's table, in kind order.
template <class F>
void for_each_table(registry_state& st, F&& f) {
  std::apply([&f](auto&... tables) { (f(tables), ...); }, st.tables);
}

void publish_counts(registry_state& st) {
  size_t kind = 0;
  for_each_table(st, [&](const auto& table) {
    if (auto* gauge = st.gauges[kind++]) gauge->Set(static_cast<double>(table.size()));
  });
}

const reader_actor& next_reader(registry_state& st) {
  return st.readers[st.next_reader++ % st.readers.size()];
}

/// The live entity of (Kind, id), spawned first if there is none; its
/// monitor's notification names the entity and its incarnation, so the
/// registry needs no reverse (actor -> uuid) map.
template <size_t Kind>
auto& activate(registry_pointer self, const uuid& id) {
  auto& st = self->state;
  auto& table = std::get<Kind>(st.tables);
  if (auto* found = table.find(id)) return *found;
  auto activation = ++st.last_activation;
  auto me = caf::actor_cast<registry_actor>(self);
  constexpr auto behavior = kind_traits<static_cast<entity_kind>(Kind)>::behavior;
  auto handle = self->spawn(behavior, id, activation, me, next_reader(st), st.context);
  handle->attach_functor([me, id, activation] {
    caf::anon_send(me, user_down_atom_v, id, activation);
  });
  auto& entry = table.insert(id, std::move(handle), activation);
  publish_counts(st);
  return entry;
}

template <class Handle, class... Ts>
void send_to(registry_pointer self, entity_entry<Handle>& entry, bool mutation, Ts&&... xs) {
  ++entry.forwarded;
  entry.last_forward = self->clock().now();
  entry.wrote = entry.wrote || mutation;
  self->send(entry.handle, std::forward<Ts>(xs)...);
}

/// Forwards the command of kind `Kind` to its entity.
template <size_t Kind>
void forward(registry_pointer self, const uuid& key, entity_command& command, completion& done) {
  bool mutation = may_write(command);
  send_to(self, activate<Kind>(self, key), mutation, std::move(command), std::move(done));
}

/// Routes a command by (its kind, key): no code per command or per kind.
template <size_t... Kinds>
void route(registry_pointer self, const uuid& key, entity_command& command, completion& done,
           std::index_sequence<Kinds...>) {
  ((command.index() == Kinds ? forward<Kinds>(self, key, command, done) : void()), ...);
}

/// Every command's entry: refused while stopping, then served here, sent
/// to the node that serves its shard, or refused (actors/command_routing.hpp).
/// `arrived`: it came from another node and has had its one hop.
void accept(registry_pointer self, const uuid& key, entity_command& command, completion& done,
            bool arrived) {
  const auto& st = self->state;
  if (st.refusing) {
    fail(done, shutting_down());
    return;
  }
  switch (path_for(st.context->shards, st.context->remote, key, arrived)) {
    case command_path::serve:
      route(self, key, command, done, std::make_index_sequence<entity_kind_count>{});
      return;
    case command_path::forward:
      // Non-blocking: the forwarder posts to its own Asio thread.
      st.context->remote->forward(envelope{key, std::move(command)}, std::move(done));
      return;
    case command_path::unavailable: fail(done, shard_unavailable_failure()); return;
    case command_path::misdirected: fail(done, not_shard_owner_failure()); return;
  }
}

template <class Handle>
void sweep_table(registry_pointer self, entity_table<Handle>& table) {
  auto now = self->clock().now();
  const auto passivate_after = self->state.context->passivate_after;
  for (auto& [id, entry] : table)
    if (now - entry.last_forward >= passivate_after) self->send(entry.handle, idle_query_atom_v);
}

void sweep(registry_pointer self) {
  for_each_table(self->state, [self](auto& table) { sweep_table(self, table); });
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

/// Drops the mapping (of whichever kind) if it still names this incarnation.
void forget_entity(registry_state& st, const uuid& id, uint64_t activation) {
  bool forgotten = false;
  for_each_table(st, [&](auto& table) { forgotten = forgotten || table.forget(id, activation); });
  if (!forgotten) return;
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

// -- cluster: shards this node stops serving ---------------------------------------

bool in_shards(const std::vector<int32_t>& shards, const uuid& id) {
  return std::find(shards.begin(), shards.end(), shard_of(id)) != shards.end();
}

/// Entities of `shards`, across every table, as (id, activation).
std::vector<std::pair<uuid, uint64_t>> shard_entities(registry_state& st, const std::vector<int32_t>& shards) {
  std::vector<std::pair<uuid, uint64_t>> found;
  for_each_table(st, [&](auto& table) {
    for (auto& [id, entry] : table)
      if (in_shards(shards, id)) found.emplace_back(id, entry.activation);
  });
  return found;
}

/// Passivates every entity of `shards` now (they quit after what is already
/// in their mailboxes; what they were owed answers through the completion's
/// fallback). Returns how many went.
size_t passivate_shards(registry_pointer self, const std::vector<int32_t>& shards) {
  auto& st = self->state;
  auto gone = shard_entities(st, shards);
  for_each_table(st, [&](auto& table) {
    for (auto& [id, entry] : table)
      if (in_shards(shards, id)) self->send(entry.handle, passivate_atom_v);
  });
  for (const auto& [id, activation] : gone) forget_entity(st, id, activation);
  return gone.size();
}

/// Asks every entity of `shards` whether it is idle (the sweep's question):
/// one that committed everything offers to go and the handshake retires it.
void query_shards(registry_pointer self, const std::vector<int32_t>& shards) {
  for_each_table(self->state, [&](auto& table) {
    for (auto& [id, entry] : table)
      if (in_shards(shards, id)) self->send(entry.handle, idle_query_atom_v);
  });
}

/// One round over the open shard drains: finished ones answer true, those
/// out of rounds passivate what is left and answer false.
void check_shard_drains(registry_pointer self) {
  auto& drains = self->state.shard_drains;
  for (auto i = drains.begin(); i != drains.end();) {
    bool empty = shard_entities(self->state, i->shards).empty();
    if (empty || --i->checks_left <= 0) {
      if (!empty) passivate_shards(self, i->shards);
      i->promise.deliver(empty);
      i = drains.erase(i);
      continue;
    }
    query_shards(self, i->shards);
    ++i;
  }
  if (!drains.empty()) self->delayed_send(self, shard_drain_check_interval, shard_drain_check_atom_v);
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
    [self](const uuid& key, entity_command& command, completion& done) {
      accept(self, key, command, done, /*arrived=*/false);
    },
    [self](local_only_atom, const uuid& key, entity_command& command, completion& done) {
      accept(self, key, command, done, /*arrived=*/true);
    },
    // -- lifecycle -------------------------------------------------------------------
    [self](idle_atom, const uuid& id, uint64_t activation, uint64_t handled) {
      bool settled = false;
      for_each_table(self->state, [&](auto& table) {
        settled = settled || settle_idle(self, table, id, activation, handled);
      });
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
      for_each_table(st, [self](auto& table) { sync_table(self, table); });
      if (st.awaiting_sync.empty()) return true;
      st.drain_promise = self->make_response_promise<bool>();
      return *st.drain_promise;
    },
    [self](stop_atom) -> caf::result<bool> {
      auto& st = self->state;
      st.refusing = true;
      for_each_table(st, [self](auto& table) { passivate_all(self, table); });
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
    // -- cluster (actors/lease_keeper.cpp) --------------------------------------------
    [self](shard_lost_atom, const std::vector<int32_t>& shards) {
      passivate_shards(self, shards);
      return true;
    },
    [self](shard_drain_atom, std::vector<int32_t>& shards) -> caf::result<bool> {
      if (shard_entities(self->state, shards).empty()) return true;
      query_shards(self, shards);
      auto& drains = self->state.shard_drains;
      drains.push_back(shard_drain{std::move(shards), self->make_response_promise<bool>()});
      if (drains.size() == 1)
        self->delayed_send(self, shard_drain_check_interval, shard_drain_check_atom_v);
      return drains.back().promise;
    },
    [self](shard_drain_check_atom) { check_shard_drains(self); },
  };
}

} // namespace tally
