#include "protocols/log.hpp"

#include <atomic>
#include <unistd.h>

#include "protocols/credits.hpp"
#include "protocols/json_writer.hpp"

namespace tally {

namespace {

std::atomic<log_level> minimum_level{log_level::info};

/// Digits after the point for a double field: milliseconds when it is a
/// duration in seconds, enough for any ratio a log reader wants.
constexpr int log_decimals = 3;

const char* level_name(log_level level) {
  switch (level) {
    case log_level::debug: return "debug";
    case log_level::info: return "info";
    case log_level::warn: return "warn";
    case log_level::error: return "error";
  }
  return "info";
}

} // namespace

void set_log_level(log_level level) {
  minimum_level.store(level, std::memory_order_relaxed);
}

bool log_enabled(log_level level) {
  return level >= minimum_level.load(std::memory_order_relaxed);
}

void log_event(log_level level, std::string_view message, std::initializer_list<log_field> fields) {
  if (!log_enabled(level)) return;
  std::string line;
  line.reserve(256);
  json_writer json(line);
  json.begin_object();
  json.key("ts").timestamp(now_us(), rfc3339_fraction::milliseconds);
  json.key("level").string(level_name(level));
  json.key("msg").string(message);
  for (const auto& [key, value] : fields) {
    json.key(key);
    if (auto text = std::get_if<std::string_view>(&value)) {
      json.string(*text);
    } else if (auto number = std::get_if<int64_t>(&value)) {
      json.integer(*number);
    } else if (auto real = std::get_if<double>(&value)) {
      json.fixed(*real, log_decimals);
    } else {
      json.boolean(std::get<bool>(value));
    }
  }
  json.end_object();
  line += '\n';
  // One write(2) per line keeps lines whole across threads.
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

} // namespace tally
