#include "actors/generation_sweeper.hpp"

#include <utility>

#include "caf/all.hpp"

#include "actors/dispatch.hpp"
#include "protocols/log.hpp"

namespace tally {

generation_sweeper_actor::behavior_type generation_sweeper_behavior(
  generation_sweeper_actor::stateful_pointer<generation_sweeper_state> self, store_factory make_store,
  registry_actor registry, std::chrono::milliseconds interval) {
  auto& st = self->state;
  st.db = store_connection{std::move(make_store)};
  st.registry = std::move(registry);
  st.interval = interval;
  self->delayed_send(self, interval, generation_sweep_atom_v);
  return {
    [self](generation_sweep_atom) {
      auto& st = self->state;
      auto now = now_us();
      try {
        auto users = st.db.get().users_with_generations_due(now, generation_sweep_users_max);
        for (const auto& user : users)
          dispatch(st.registry, user, expire_generations_request{now}, reply<bool>{[](outcome<bool>) {}});
        if (!users.empty())
          log_event(log_level::info, "generation sweep", {{"users", static_cast<int64_t>(users.size())}});
      } catch (const store_error& e) {
        log_event(log_level::warn, "generation sweep failed", {{"error", std::string_view(e.what())}});
      }
      self->delayed_send(self, st.interval, generation_sweep_atom_v);
    },
  };
}

generation_sweeper_actor spawn_generation_sweeper(caf::actor_system& system, store_factory make_store,
                                                  registry_actor registry, std::chrono::milliseconds interval) {
  return system.spawn<caf::detached>(generation_sweeper_behavior, std::move(make_store), std::move(registry),
                                     interval);
}

} // namespace tally
