#pragma once
// One JSON object per line on stderr: ts, level, msg, then the given fields.
// Thread-safe (one write(2) per line). Secrets never go through here outside
// dev mode; callers decide, this only writes.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tally {

enum class log_level : uint8_t { debug, info, warn, error };

/// A field value: text or a number (numbers are written unquoted).
using log_value = std::variant<std::string_view, int64_t, double, bool>;
using log_field = std::pair<std::string_view, log_value>;

/// Lines below this level are skipped (default info; TALLY_LOG_LEVEL).
void set_log_level(log_level level);
bool log_enabled(log_level level);

void log_event(log_level level, std::string_view message,
               std::initializer_list<log_field> fields = {});

} // namespace tally
