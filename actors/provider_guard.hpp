#pragma once
// The circuit breaker around a provider: a generation_provider that admits
// through the breaker (circuit_breaker.hpp) and records each answer in it.
// Thread-safe: user actors admit on CAF workers, answers arrive on the
// provider's threads; one mutex guards the small state machine.
#include <memory>
#include <mutex>

#include "actors/circuit_breaker.hpp"
#include "actors/entity_context.hpp"
#include "protocols/generation_metrics.hpp"
#include "protocols/generation_provider.hpp"

namespace tally {

class provider_guard final : public generation_provider {
public:
  /// `metrics` may be null (tests); `clock` is the breaker's time.
  provider_guard(std::shared_ptr<generation_provider> inner, const provider_config& config,
                 generation_metrics* metrics, wall_clock clock = now_us);

  provider_admission admit() override;
  void give_back(const provider_admission& admission) override;
  void submit(generation_job job, const provider_admission& admission, provider_callback done) override;

  breaker_state state() const;

private:
  void publish_state();

  std::shared_ptr<generation_provider> inner_;
  generation_metrics* metrics_;
  wall_clock clock_;
  mutable std::mutex mutex_;
  circuit_breaker breaker_;
};

} // namespace tally
