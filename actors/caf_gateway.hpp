#pragma once
// gateway (protocols/gateway.hpp) over CAF: each call is one anon_send to
// the registry with the reply<T> inside the message; nothing blocks, and the
// reply is delivered exactly once on a CAF worker thread. The messages carry
// callbacks, so they are local-only (caf_types.hpp).
#include <atomic>

#include "protocols/caf_types.hpp"
#include "protocols/gateway.hpp"

namespace tally {

class caf_gateway final : public gateway {
public:
  caf_gateway(registry_actor registry, const store_health& health)
    : registry_(std::move(registry)), health_(health) {}

  void get_balance(const uuid& user, reply<balance> done) override;
  void get_ledger(const uuid& user, ledger_query query, reply<ledger_page> done) override;
  void charge(const uuid& user, charge_command command,
              reply<mutation_reply<charge_result>> done) override;
  void credit(const uuid& user, credit_command command,
              reply<mutation_reply<credit_result>> done) override;
  const store_health& health() const override { return health_; }

  /// From now on every call is answered shutting_down at once.
  void close() { closed_.store(true); }

private:
  registry_actor registry_;
  const store_health& health_;
  std::atomic<bool> closed_{false};
};

} // namespace tally
