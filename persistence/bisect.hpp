#pragma once
// Bisection of a batch that failed for good: the batch is halved, a half
// that fails again is halved again, and so on, until every part has either
// succeeded or is one unit that cannot be split (that unit alone fails).
// One bad unit among n costs about 2*log2(n) store calls, and the other
// n - 1 go through. Used by the writer (a unit is one entity's writes) and
// the readers (a unit is one queued request).
//
//   failed batch --halve--> [earlier half, later half] --try each, earlier first-->
//        done: answered | refused: halve again (one unit: fail it) | store trouble: stop
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

namespace tally {

/// How one store call for a part of a failed batch ended.
enum class part_outcome : uint8_t {
  /// It succeeded, and the caller has told the part's requesters.
  done,
  /// The store refused it for good: halve it, or fail it if it is one unit.
  refused,
  /// The store itself is in trouble (unreachable, say): stop halving.
  store_trouble,
};

/// Bisects `failed` (already refused as a whole) with at most `calls_max`
/// calls of `try_part`; parts left when they are spent fail whole. The
/// caller supplies, for its Part type:
///   try_part(Part&) -> part_outcome   one store call for the part
///   halve(Part&) -> std::optional<std::pair<Part, Part>>
///                                     earlier and later half, or nullopt
///                                     (part untouched) if it is one unit
///   fail(Part&&)                      the part is refused for good
///   stop(std::vector<Part>&&)         store trouble: the part just tried and
///                                     every part not yet tried, in order
template <class Part, class TryPart, class Halve, class Fail, class Stop>
void bisect(Part failed, size_t calls_max, TryPart try_part, Halve halve, Fail fail, Stop stop) {
  std::vector<Part> pending;  // a stack: the earlier half on top
  auto halve_or_fail = [&](Part& part) {
    auto halves = halve(part);
    if (!halves) {
      fail(std::move(part));
      return;
    }
    pending.push_back(std::move(halves->second));
    pending.push_back(std::move(halves->first));
  };
  halve_or_fail(failed);
  size_t calls = 0;
  while (!pending.empty()) {
    Part part = std::move(pending.back());
    pending.pop_back();
    if (calls == calls_max) {
      fail(std::move(part));
      continue;
    }
    ++calls;
    switch (try_part(part)) {
      case part_outcome::done:
        break;
      case part_outcome::refused:
        halve_or_fail(part);
        break;
      case part_outcome::store_trouble:
        pending.push_back(std::move(part));
        std::reverse(pending.begin(), pending.end());
        stop(std::move(pending));
        return;
    }
  }
}

/// Halves a part that is a list of units, in order: for bisect's `halve`.
template <class Unit>
std::optional<std::pair<std::vector<Unit>, std::vector<Unit>>> halve_in_order(std::vector<Unit>& units) {
  if (units.size() < 2) return std::nullopt;
  auto middle = units.begin() + static_cast<std::ptrdiff_t>(units.size() / 2);
  return std::pair{std::vector<Unit>(std::make_move_iterator(units.begin()), std::make_move_iterator(middle)),
                   std::vector<Unit>(std::make_move_iterator(middle), std::make_move_iterator(units.end()))};
}

} // namespace tally
