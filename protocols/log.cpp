#include "protocols/log.hpp"

#include <atomic>
#include <cstdio>
#include <unistd.h>

#include "protocols/credits.hpp"
#include "protocols/json_text.hpp"
#include "protocols/rfc3339.hpp"

namespace tally {

namespace {

std::atomic<log_level> minimum_level{log_level::info};

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
  line += "{\"ts\":";
  line += '"';
  append_rfc3339(line, now_us(), rfc3339_fraction::milliseconds);
  line += '"';
  line += ",\"level\":\"";
  line += level_name(level);
  line += "\",\"msg\":";
  append_json_string(line, message);
  for (const auto& [key, value] : fields) {
    line += ',';
    append_json_string(line, key);
    line += ':';
    if (auto text = std::get_if<std::string_view>(&value)) {
      append_json_string(line, *text);
    } else if (auto number = std::get_if<int64_t>(&value)) {
      append_json_int(line, *number);
    } else if (auto real = std::get_if<double>(&value)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.3f", *real);
      line += buf;
    } else {
      line += std::get<bool>(value) ? "true" : "false";
    }
  }
  line += "}\n";
  // One write(2) per line keeps lines whole across threads.
  [[maybe_unused]] auto written = ::write(STDERR_FILENO, line.data(), line.size());
}

} // namespace tally
