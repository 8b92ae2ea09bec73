#include "actors/circuit_breaker.hpp"

#include "actors/rate_limit.hpp"

namespace tally {

namespace {
/// Retry-After while a probe is out: its answer comes within the request
/// time-out, usually much sooner.
constexpr int64_t probe_wait_us = 1'000'000;
} // namespace

provider_admission circuit_breaker::admit(timestamp_us now) {
  if (state_ == breaker_state::open) {
    if (now < open_until_) return {false, false, retry_after_seconds(open_until_ - now)};
    state_ = breaker_state::half_open;
    probe_out_ = false;
  }
  if (state_ == breaker_state::half_open) {
    if (probe_out_) return {false, false, retry_after_seconds(probe_wait_us)};
    probe_out_ = true;
    return {true, true, 0};
  }
  return {true, false, 0};
}

void circuit_breaker::give_back(const provider_admission& admission) {
  if (admission.probe && state_ == breaker_state::half_open) probe_out_ = false;
}

void circuit_breaker::record(bool ok, const provider_admission& admission, timestamp_us now) {
  switch (state_) {
    case breaker_state::closed:
      if (ok) {
        failures_ = 0;
      } else if (++failures_ >= failures_max_) {
        open(now);
      }
      return;
    case breaker_state::open: return;  // answers of jobs sent before it opened
    case breaker_state::half_open:
      if (!admission.probe) return;
      if (ok) {
        state_ = breaker_state::closed;
        failures_ = 0;
        probe_out_ = false;
      } else {
        open(now);
      }
      return;
  }
}

void circuit_breaker::open(timestamp_us now) {
  state_ = breaker_state::open;
  open_until_ = now + open_us_;
  probe_out_ = false;
}

} // namespace tally
