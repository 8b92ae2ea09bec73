#pragma once
// RFC 3339 timestamps in UTC: the one formatter, for responses (API.md,
// Conventions: "2026-11-23T18:00:00Z") and for log lines, and the parser.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/credits.hpp"

namespace tally {

/// How many digits of a second's fraction a timestamp carries.
enum class rfc3339_fraction : uint8_t {
  /// None for whole seconds, else three digits when the time falls on a
  /// millisecond, else six (responses: "…:00Z", "…:00.250Z", "…:00.000007Z").
  shortest,
  /// Always three digits, truncated ("…:00.000Z"): log lines, fixed width.
  milliseconds,
};

/// Appends `at` (microseconds since the epoch, UTC) as RFC 3339. Years
/// outside 0000..9999 cannot be written and are clamped.
void append_rfc3339(std::string& out, timestamp_us at,
                    rfc3339_fraction fraction = rfc3339_fraction::shortest);

std::string format_rfc3339(timestamp_us at,
                           rfc3339_fraction fraction = rfc3339_fraction::shortest);

/// Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)"; fractions beyond
/// microseconds are truncated. nullopt for anything else.
std::optional<timestamp_us> parse_rfc3339(std::string_view text);

} // namespace tally
