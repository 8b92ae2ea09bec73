#include "actors/generation_decisions.hpp"

#include "actors/rate_limit.hpp"

namespace tally {

outcome<accepted_change> decide_reserve(const balance& current, int64_t price) {
  if (price <= 0) return failure{error_code::validation_failed, "price must be > 0", 0};
  if (price > current.available)
    return failure{error_code::insufficient_credits, "not enough available credits for this generation", 0};
  return accepted_change{{current.available - price, current.reserved + price}, ledger_type::reserve, price};
}

outcome<accepted_create> decide_create(const balance& current, int active, timestamp_us rate_tat,
                                       timestamp_us now, int64_t price, const generation_config& config) {
  auto rate = gcra(rate_tat, now, config.create_rate);
  if (!rate.allowed)
    return failure{error_code::rate_limited, "too many generations created; retry later",
                   retry_after_seconds(rate.retry_after_us)};
  if (active >= config.active_max)
    return failure{error_code::max_active_generations,
                   "at most " + std::to_string(config.active_max) + " generations may be pending or processing", 0};
  auto reservation = decide_reserve(current, price);
  if (!reservation) return reservation.error();
  return accepted_create{reservation.value(), rate.tat};
}

std::optional<generation_status> next_status(generation_status current, generation_event event) {
  if (!is_active(current)) return std::nullopt;
  switch (event) {
    case generation_event::submitted:
      if (current != generation_status::pending) return std::nullopt;
      return generation_status::processing;
    case generation_event::completed: return generation_status::completed;
    case generation_event::failed: return generation_status::failed;
    case generation_event::cancelled: return generation_status::cancelled;
  }
  return std::nullopt;
}

std::optional<accepted_change> settle(const balance& current, generation_status status, int64_t price) {
  switch (status) {
    case generation_status::completed:
      return accepted_change{{current.available, current.reserved - price}, ledger_type::capture, price};
    case generation_status::failed:
    case generation_status::cancelled:
      return accepted_change{{current.available + price, current.reserved - price}, ledger_type::release, price};
    case generation_status::pending:
    case generation_status::processing: return std::nullopt;
  }
  return std::nullopt;
}

} // namespace tally
