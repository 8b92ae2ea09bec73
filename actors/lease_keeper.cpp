#include "actors/lease_keeper.hpp"

#include <algorithm>
#include <string_view>
#include <utility>
#include <vector>

#include "caf/all.hpp"

#include "actors/lease_decisions.hpp"
#include "persistence/store.hpp"
#include "protocols/cluster_metrics.hpp"
#include "protocols/log.hpp"

namespace tally {

namespace {

using keeper_pointer = lease_keeper_actor::stateful_pointer<lease_keeper_state>;
using steady = std::chrono::steady_clock;

std::chrono::milliseconds tick_interval(const lease_keeper_state& st) {
  return st.settings.lease_ttl / lease_ticks_per_ttl;
}

std::vector<int32_t> as_message(const std::vector<int>& shards) {
  return std::vector<int32_t>(shards.begin(), shards.end());
}

/// Runs one store call; a failure is logged once per outage and skips the
/// step (deadlines run out by themselves while the store is away).
template <class F>
bool store_call(keeper_pointer self, const char* what, F&& call) {
  auto& st = self->state;
  try {
    call(*st.store);
    if (st.store_failing) log_event(log_level::info, "lease store reachable again", {{"during", std::string_view(what)}});
    st.store_failing = false;
    return true;
  } catch (const std::exception& e) {
    if (!st.store_failing)
      log_event(log_level::warn, "lease store unavailable; shards stop at their deadlines",
                {{"during", std::string_view(what)}, {"error", std::string_view(e.what())}});
    st.store_failing = true;
    return false;
  }
}

void publish_owned(lease_keeper_state& st) {
  if (st.stats != nullptr) st.stats->shards_owned.Set(static_cast<double>(st.map->served().size()));
}

/// These shards are no longer this node's: not served, not held, and the
/// registry passivates what it has of them.
void lose(keeper_pointer self, const std::vector<int>& shards) {
  auto& st = self->state;
  if (shards.empty()) return;
  for (int shard : shards) {
    st.map->stop_serving(shard);
    st.held.erase(shard);
    st.handing_over.erase(shard);
    st.preparing.erase(shard);
  }
  log_event(log_level::warn, "shard leases lost", {{"shards", static_cast<int64_t>(shards.size())}});
  self->request(st.registry, caf::infinite, shard_lost_atom_v, as_message(shards))
    .then([](bool) {}, [](caf::error&) {});
  publish_owned(st);
}

/// 1. Shards whose local deadline passed (no renewal in time) are lost.
void expire_deadlines(keeper_pointer self) {
  auto& st = self->state;
  std::vector<int> expired;
  for (int shard : st.held)
    if (!st.handing_over.count(shard) && !st.preparing.count(shard) && !st.map->serves(shard))
      expired.push_back(shard);
  lose(self, expired);
}

/// 2. One renewal statement; its answer is what this node still holds.
void renew(keeper_pointer self) {
  auto& st = self->state;
  auto sent = steady::now();
  renewal answer;
  if (!store_call(self, "renew", [&](lease_store& store) { answer = store.renew(); })) return;
  if (st.stats != nullptr)
    st.stats->lease_renewal.Observe(std::chrono::duration<double>(steady::now() - sent).count());
  if (!answer.member) {
    log_event(log_level::error, "this node's incarnation was superseded; it serves nothing",
              {{"node_id", std::string_view(st.self_id)}});
    lose(self, std::vector<int>(st.held.begin(), st.held.end()));
    return;
  }
  auto deadline = lease_deadline(sent, st.settings.lease_ttl);
  st.map->renewed_membership(deadline);
  std::set<int> renewed;
  std::vector<int> strays;  // held in the store, given up here: released below
  for (const auto& lease : answer.leases) {
    renewed.insert(lease.shard);
    if (!st.held.count(lease.shard)) {
      strays.push_back(lease.shard);
      continue;
    }
    if (!st.handing_over.count(lease.shard) && !st.preparing.count(lease.shard))
      st.map->serve_until(lease.shard, deadline);
  }
  std::vector<int> gone;
  for (int shard : st.held)
    if (!renewed.count(shard)) gone.push_back(shard);
  lose(self, gone);
  if (!strays.empty()) store_call(self, "release", [&](lease_store& store) { store.release(strays); });
  publish_owned(st);
}

/// 3a. Members and their status (admin API, metrics, placement).
std::vector<std::string> refresh_members(keeper_pointer self) {
  auto& st = self->state;
  std::vector<member_row> rows;
  if (!store_call(self, "members", [&](lease_store& store) { rows = store.members(); })) return {};
  std::vector<cluster_member> views;
  std::vector<std::string> live;
  int counts[3] = {0, 0, 0};
  for (auto& row : rows) {
    ++counts[static_cast<size_t>(row.view.status)];
    if (!row.left && row.view.status != member_status::dead) live.push_back(row.view.id);
    views.push_back(std::move(row.view));
  }
  if (st.stats != nullptr) st.stats->members(counts[0], counts[1], counts[2]);
  st.map->set_members(std::move(views));
  return live;
}

/// 3b. The routing map: owners by unexpired lease.
bool refresh_routes(keeper_pointer self) {
  auto& st = self->state;
  std::vector<shard_owner> owners;
  if (!store_call(self, "routing map", [&](lease_store& store) { owners = store.routing_map(); })) return false;
  std::vector<shard_route> routes(static_cast<size_t>(shard_count));
  std::array<std::string, shard_count> by_shard;
  for (auto& owner : owners) {
    if (owner.shard < 0 || owner.shard >= shard_count) continue;
    auto index = static_cast<size_t>(owner.shard);
    by_shard[index] = owner.node_id;
    routes[index] = shard_route{shard_place::remote, std::move(owner.node_id), std::move(owner.internal_address)};
  }
  auto now = steady::now();
  for (size_t shard = 0; shard < by_shard.size(); ++shard) {
    if (!by_shard[shard].empty())
      st.free_since[shard].reset();
    else if (!st.free_since[shard])
      st.free_since[shard] = now;
  }
  st.owners = std::move(by_shard);
  st.map->set_routes(std::move(routes));
  return true;
}

/// After a hand-off's drain: give the lease up (the preferred node claims it).
void finish_handoff(keeper_pointer self, int shard) {
  auto& st = self->state;
  if (!st.handing_over.count(shard)) return;  // lost meanwhile
  store_call(self, "release", [&](lease_store& store) { store.release({shard}); });
  st.handing_over.erase(shard);
  st.held.erase(shard);
  refresh_routes(self);
}

/// 4 and 5: claim what this node is preferred for, hand over the rest.
void place_shards(keeper_pointer self, const std::vector<std::string>& live) {
  auto& st = self->state;
  lease_view view;
  view.self = st.self_id;
  view.live = live;
  view.owner = st.owners;
  auto now = steady::now();
  for (int shard = 0; shard < shard_count; ++shard) {
    auto index = static_cast<size_t>(shard);
    view.serving[index] = st.held.count(shard) && !st.handing_over.count(shard) && !st.preparing.count(shard);
    view.orphaned[index] = st.free_since[index] && now - *st.free_since[index] > st.settings.lease_ttl;
  }
  auto plan = plan_leases(view);

  if (!plan.claims.empty()) {
    auto sent = steady::now();
    std::vector<held_lease> won;
    if (store_call(self, "claim", [&](lease_store& store) { won = store.claim(plan.claims); }) && !won.empty()) {
      std::vector<int> shards;
      for (const auto& lease : won) {
        shards.push_back(lease.shard);
        st.held.insert(lease.shard);
        st.preparing.insert(lease.shard);
      }
      auto deadline = lease_deadline(sent, st.settings.lease_ttl);
      log_event(log_level::info, "shard leases claimed", {{"shards", static_cast<int64_t>(shards.size())}});
      // Whatever an earlier tenure of these shards left in the registry goes
      // first; only then are they served (under the new epoch).
      self->request(st.registry, caf::infinite, shard_lost_atom_v, as_message(shards))
        .then(
          [self, shards, deadline](bool) {
            auto& st = self->state;
            for (int shard : shards) {
              if (!st.preparing.erase(shard) || !st.held.count(shard)) continue;
              st.map->serve_until(shard, deadline);
            }
            publish_owned(st);
          },
          [self, shards](caf::error&) {
            for (int shard : shards) self->state.preparing.erase(shard);
          });
    }
  }

  for (int shard : plan.handoffs) {
    st.handing_over.insert(shard);
    st.map->stop_serving(shard);  // callers get shard_unavailable until the newcomer serves it
    self->request(st.registry, handoff_drain_timeout, shard_drain_atom_v, std::vector<int32_t>{shard})
      .then([self, shard](bool) { finish_handoff(self, shard); },
            [self, shard](caf::error&) { finish_handoff(self, shard); });
  }
  if (!plan.handoffs.empty())
    log_event(log_level::info, "handing shards over", {{"shards", static_cast<int64_t>(plan.handoffs.size())}});
  publish_owned(st);
}

void tick(keeper_pointer self) {
  auto& st = self->state;
  if (st.leaving) return;
  expire_deadlines(self);
  renew(self);
  auto live = refresh_members(self);
  if (refresh_routes(self) && !live.empty()) place_shards(self, live);
  self->delayed_send(self, tick_interval(st), lease_tick_atom_v);
}

} // namespace

lease_keeper_actor::behavior_type lease_keeper_behavior(keeper_pointer self, std::unique_ptr<lease_store> store,
                                                        shard_map* map, registry_actor registry,
                                                        cluster_metrics* stats, lease_keeper_settings settings) {
  auto& st = self->state;
  st.store = std::move(store);
  st.map = map;
  st.registry = std::move(registry);
  st.stats = stats;
  st.settings = settings;
  st.self_id = map->node_id();
  auto me = caf::actor_cast<lease_keeper_actor>(self);
  map->on_refresh_request([me] { caf::anon_send(me, routing_tick_atom_v, false); });
  self->send(self, lease_tick_atom_v);
  st.routing_armed = true;
  self->delayed_send(self, routing_refresh_interval, routing_tick_atom_v, true);
  return {
    [self](lease_tick_atom) { tick(self); },
    [self](routing_tick_atom, bool periodic) {
      auto& st = self->state;
      if (st.leaving) return;
      st.map->refresh_taken();
      refresh_routes(self);
      if (periodic) self->delayed_send(self, routing_refresh_interval, routing_tick_atom_v, true);
    },
    [self](lease_leave_atom) {
      auto& st = self->state;
      st.leaving = true;
      st.map->close();
      st.map->on_refresh_request(nullptr);
      bool left = store_call(self, "leave", [](lease_store& store) { store.leave(); });
      log_event(left ? log_level::info : log_level::warn, "left the cluster",
                {{"released", static_cast<int64_t>(st.held.size())}, {"recorded", left}});
      st.held.clear();
      publish_owned(st);
      self->quit();
      return left;
    },
  };
}

lease_keeper_actor spawn_lease_keeper(caf::actor_system& system, std::unique_ptr<lease_store> store,
                                      shard_map& map, registry_actor registry, cluster_metrics* stats,
                                      lease_keeper_settings settings) {
  return system.spawn<caf::detached>(lease_keeper_behavior, std::move(store), &map, std::move(registry), stats,
                                     settings);
}

} // namespace tally
