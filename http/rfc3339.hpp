#pragma once
// RFC 3339 timestamps in UTC (API.md, Conventions: "2026-11-23T18:00:00Z").
// Whole seconds are written without a fraction; otherwise microseconds are
// written with trailing zeros trimmed to millisecond or microsecond groups.
#include <optional>
#include <string>
#include <string_view>

#include "protocols/credits.hpp"

namespace tally {

/// Appends `at` (microseconds since the epoch, UTC) as RFC 3339.
void append_rfc3339(std::string& out, timestamp_us at);

std::string format_rfc3339(timestamp_us at);

/// Parses "YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)"; fractions beyond
/// microseconds are truncated. nullopt for anything else.
std::optional<timestamp_us> parse_rfc3339(std::string_view text);

} // namespace tally
