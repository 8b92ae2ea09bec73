#include "protocols/rfc3339.hpp"

#include <cstdint>

namespace tally {

namespace {

constexpr int64_t us_per_second = 1'000'000;
constexpr int64_t seconds_per_day = 86'400;

// Howard Hinnant's days_from_civil / civil_from_days: proleptic Gregorian
// calendar without timegm()/gmtime_r() (no locale, no libc time zone state).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
}

bool leap_year(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

void append_digits(std::string& out, int64_t value, int width) {
  char buf[8];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  out.append(buf, static_cast<size_t>(width));
}

/// Reads exactly `width` digits at `pos`.
bool read_digits(std::string_view text, size_t pos, int width, int& value) {
  if (pos + static_cast<size_t>(width) > text.size()) return false;
  value = 0;
  for (int i = 0; i < width; ++i) {
    char c = text[pos + static_cast<size_t>(i)];
    if (c < '0' || c > '9') return false;
    value = value * 10 + (c - '0');
  }
  return true;
}

} // namespace

void append_rfc3339(std::string& out, timestamp_us at, rfc3339_fraction fraction) {
  int64_t seconds = at / us_per_second;
  int64_t micros = at % us_per_second;
  if (micros < 0) {
    micros += us_per_second;
    seconds -= 1;
  }
  int64_t days = seconds / seconds_per_day;
  int64_t of_day = seconds % seconds_per_day;
  if (of_day < 0) {
    of_day += seconds_per_day;
    days -= 1;
  }
  int64_t year = 0;
  unsigned month = 0;
  unsigned day = 0;
  civil_from_days(days, year, month, day);
  // Years outside 0000..9999 cannot be written in RFC 3339; clamp.
  if (year < 0) year = 0;
  if (year > 9999) year = 9999;
  append_digits(out, year, 4);
  out += '-';
  append_digits(out, month, 2);
  out += '-';
  append_digits(out, day, 2);
  out += 'T';
  append_digits(out, of_day / 3600, 2);
  out += ':';
  append_digits(out, of_day / 60 % 60, 2);
  out += ':';
  append_digits(out, of_day % 60, 2);
  switch (fraction) {
    case rfc3339_fraction::shortest:
      if (micros == 0) break;
      out += '.';
      if (micros % 1000 == 0) {
        append_digits(out, micros / 1000, 3);
      } else {
        append_digits(out, micros, 6);
      }
      break;
    case rfc3339_fraction::milliseconds:
      out += '.';
      append_digits(out, micros / 1000, 3);
      break;
  }
  out += 'Z';
}

std::string format_rfc3339(timestamp_us at, rfc3339_fraction fraction) {
  std::string out;
  out.reserve(32);
  append_rfc3339(out, at, fraction);
  return out;
}

std::optional<timestamp_us> parse_rfc3339(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (!read_digits(text, 0, 4, year) || text.size() < 20 || text[4] != '-' ||
      !read_digits(text, 5, 2, month) || text[7] != '-' || !read_digits(text, 8, 2, day) ||
      (text[10] != 'T' && text[10] != 't') || !read_digits(text, 11, 2, hour) || text[13] != ':' ||
      !read_digits(text, 14, 2, minute) || text[16] != ':' || !read_digits(text, 17, 2, second))
    return std::nullopt;
  if (month < 1 || month > 12 || day < 1 ||
      day > static_cast<int>(days_in_month(year, static_cast<unsigned>(month))) || hour > 23 ||
      minute > 59 || second > 60)
    return std::nullopt;
  // A leap second is folded into the next second's start (no leap tables).
  size_t pos = 19;
  int64_t micros = 0;
  if (pos < text.size() && text[pos] == '.') {
    ++pos;
    size_t first = pos;
    int64_t scale = 100'000;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      micros += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == first) return std::nullopt;
  }
  int64_t offset_seconds = 0;
  if (pos < text.size() && (text[pos] == 'Z' || text[pos] == 'z')) {
    ++pos;
  } else if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
    int offset_hour = 0, offset_minute = 0;
    if (!read_digits(text, pos + 1, 2, offset_hour) || pos + 3 >= text.size() ||
        text[pos + 3] != ':' || !read_digits(text, pos + 4, 2, offset_minute) ||
        offset_hour > 23 || offset_minute > 59)
      return std::nullopt;
    offset_seconds = (offset_hour * 3600 + offset_minute * 60) * (text[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) return std::nullopt;
  int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t seconds = days * seconds_per_day + hour * 3600 + minute * 60 + second - offset_seconds;
  return seconds * us_per_second + micros;
}

} // namespace tally
