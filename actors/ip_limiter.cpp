#include "actors/ip_limiter.hpp"

#include <utility>

#include "caf/all.hpp"

namespace tally {

ip_limiter_actor::behavior_type ip_limiter_behavior(
  ip_limiter_actor::stateful_pointer<ip_limiter_state> self, rate_limit limit, size_t entries_max,
  wall_clock clock) {
  self->state.table = ip_limit_table{limit, entries_max};
  self->state.clock = std::move(clock);
  return {
    [self](ip_check_atom, const std::string& ip) {
      auto& st = self->state;
      auto decision = st.table.check(ip, st.clock());
      return ip_verdict{decision.allowed, decision.retry_after_us};
    },
  };
}

} // namespace tally
