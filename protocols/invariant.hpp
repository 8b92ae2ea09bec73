#pragma once
// Assertions on the invariants the product promises (TigerBeetle style):
// checked in every build the tests and the service run, Release included,
// because a balance below zero or an epoch going back is a bug that must
// stop the process before it is acknowledged, not a condition to carry on
// from. A failure prints what was violated and the entity it concerns to
// stderr, then aborts.
#include <string_view>

namespace tally {

/// Reports a violated invariant and aborts; never returns.
[[noreturn]] void invariant_violated(const char* condition, std::string_view what,
                                     std::string_view entity, const char* file, int line);

} // namespace tally

/// TALLY_INVARIANT(balance.available >= 0, "available >= 0", to_string(id)):
/// `entity` is evaluated only when the condition fails.
#define TALLY_INVARIANT(condition, what, entity)                                          \
  do {                                                                                    \
    if (!(condition))                                                                     \
      ::tally::invariant_violated(#condition, (what), (entity), __FILE__, __LINE__);      \
  } while (false)
