#pragma once
// A seeded simulation of payment webhooks (issue 12), beside the main one:
// the real registry, webhook-event and user actors, writer and readers on
// CAF's deterministic scheduler over the simulated store. A seed decides
// the world (users, ack mode, limits), the events (1-4 payment objects, some
// delivered under two event ids, some for an unknown user, some of an
// ignored type), which deliveries and redeliveries are sent when, which
// pending actor runs next, and the faults (commits failing transiently or
// for good, killed user and event actors, passivation).
//
// After every step: at most one top-up per payment object and per event id
// in the store (ledger entries, payment rows), top-up and payment row always
// together, every balance equal to its top-ups, at most one `processed`
// answer per event and per object, and every `processed` answer given only
// once its top-up was in the store (also with ack=memory). After healing,
// every event is redelivered until it settles: each object of a known user
// ends topped up exactly once, the others never.
#include <cstddef>
#include <cstdint>
#include <string>

#include "tests/sim/simulated_store.hpp"

namespace tally::sim {

struct webhook_seed_report {
  uint64_t seed = 0;
  bool passed = true;
  size_t failed_step = 0;
  std::string violation;
  std::string world;
  size_t deliveries = 0;
  size_t processed = 0;
  size_t duplicates = 0;
  size_t failures = 0;
  size_t kills = 0;
};

/// Runs one seed (`steps` random steps, then healing and settling).
/// `sabotage` breaks the store on purpose, to prove the checks can fail.
webhook_seed_report run_webhook_seed(uint64_t seed, size_t steps,
                                     simulated_database::sabotage sabotage =
                                       simulated_database::sabotage::none);

std::string to_string(const webhook_seed_report& report);

} // namespace tally::sim
