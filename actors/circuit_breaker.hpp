#pragma once
// The provider's circuit breaker as a pure state machine on a clock the
// caller passes in (unit-tested on virtual time):
//
//   closed --N consecutive failures--> open --open period over, admit()--> half_open
//     ^                                 ^                                     |
//     +------------probe succeeded------|-------------------------------------+
//                                       +-----------probe failed--------------+
//
// While open every admission is refused with the time left; half-open lets
// exactly one probe through (refusing the rest) until its answer arrives.
// Answers of jobs admitted before the breaker opened do not count while it
// is open or half-open: only the probe decides.
#include <cstdint>

#include "protocols/credits.hpp"
#include "protocols/generation_provider.hpp"

namespace tally {

enum class breaker_state : uint8_t {
  closed,     ///< jobs flow; failures are counted
  open,       ///< jobs refused until open_until
  half_open,  ///< one probe in flight (or about to be), the rest refused
};

class circuit_breaker {
public:
  circuit_breaker(int failures_max, int64_t open_us) : failures_max_(failures_max), open_us_(open_us) {}

  provider_admission admit(timestamp_us now);
  void give_back(const provider_admission& admission);
  /// The answer of one admitted job.
  void record(bool ok, const provider_admission& admission, timestamp_us now);

  breaker_state state() const { return state_; }
  int consecutive_failures() const { return failures_; }

private:
  void open(timestamp_us now);

  int failures_max_;
  int64_t open_us_;
  breaker_state state_ = breaker_state::closed;
  int failures_ = 0;
  timestamp_us open_until_ = 0;
  bool probe_out_ = false;
};

} // namespace tally
