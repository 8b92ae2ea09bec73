#pragma once
// The decisions about generations, as pure functions of a user's state:
// whether a create may go ahead (rate limit, active limit, credits), which
// transitions the lifecycle allows, and what each one does to the balance.
// No CAF, no I/O (tests/actors/generation_decisions_test.cpp).
//
//   pending --submitted--> processing --completed--> completed   capture price
//      |                       +--------failed-----> failed      release price
//      +-----------------------+--cancelled--------> cancelled   release price
//   (failed also straight from pending: time-out, interrupted, refused submit)
#include <cstdint>
#include <optional>

#include "actors/credit_decisions.hpp"
#include "protocols/generations.hpp"
#include "protocols/outcome.hpp"

namespace tally {

/// An accepted create: the reservation and the rate limit's new state.
struct accepted_create {
  accepted_change reservation;  ///< ledger `reserve`, available -> reserved
  timestamp_us rate_tat = 0;    ///< the GCRA state after this creation
};

/// Decides a create of price `price` by a user with `active` generations
/// pending/processing, the create-rate GCRA state `rate_tat`, at `now`.
/// Checked in this order: rate_limited (with retry_after_s),
/// max_active_generations, insufficient_credits. The breaker is asked after
/// this (it hands out the one probe of a half-open circuit).
outcome<accepted_create> decide_create(const balance& current, int active, timestamp_us rate_tat,
                                       timestamp_us now, int64_t price, const generation_config& config);

/// What happens to a generation.
enum class generation_event : uint8_t {
  submitted,  ///< handed to the provider
  completed,  ///< the provider answered with a result
  failed,     ///< provider error, time-out, interrupted
  cancelled,  ///< its owner cancelled it
};

/// The status after `event`, or nullopt when the lifecycle does not allow it
/// (every event on a finished generation; submitted twice).
std::optional<generation_status> next_status(generation_status current, generation_event event);

/// The balance change that ends a reservation of `price` entering `status`
/// (completed: capture; failed, cancelled: release). nullopt for a status
/// that ends nothing (pending, processing).
std::optional<accepted_change> settle(const balance& current, generation_status status, int64_t price);

/// The reservation of `price`: insufficient_credits when not available.
outcome<accepted_change> decide_reserve(const balance& current, int64_t price);

} // namespace tally
