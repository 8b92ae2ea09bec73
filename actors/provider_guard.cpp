#include "actors/provider_guard.hpp"

#include <utility>

namespace tally {

provider_guard::provider_guard(std::shared_ptr<generation_provider> inner, const provider_config& config,
                               generation_metrics* metrics, wall_clock clock)
  : inner_(std::move(inner)),
    metrics_(metrics),
    clock_(std::move(clock)),
    breaker_(config.breaker_failures, micros(config.breaker_open)) {}

provider_admission provider_guard::admit() {
  std::lock_guard<std::mutex> lock(mutex_);
  auto admission = breaker_.admit(clock_());
  publish_state();
  return admission;
}

void provider_guard::give_back(const provider_admission& admission) {
  std::lock_guard<std::mutex> lock(mutex_);
  breaker_.give_back(admission);
}

void provider_guard::submit(generation_job job, const provider_admission& admission, provider_callback done) {
  inner_->submit(std::move(job), admission,
                 [this, admission, done = std::move(done)](provider_answer answer, std::chrono::microseconds latency) {
                   {
                     std::lock_guard<std::mutex> lock(mutex_);
                     breaker_.record(answer.ok, admission, clock_());
                     publish_state();
                   }
                   if (metrics_ != nullptr)
                     metrics_->provider_latency.Observe(std::chrono::duration<double>(latency).count());
                   done(std::move(answer), latency);
                 });
}

breaker_state provider_guard::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return breaker_.state();
}

void provider_guard::publish_state() {
  if (metrics_ != nullptr) metrics_->breaker_state.Set(static_cast<double>(breaker_.state()));
}

} // namespace tally
