#include "protocols/json_writer.hpp"

#include <cmath>
#include <cstdio>

namespace tally {

namespace {

/// Most digits after the point fixed() writes; more says nothing for a double.
constexpr int fixed_decimals_max = 9;
/// The longest "%.*f" of a finite double: sign, 309 integer digits, point,
/// fixed_decimals_max decimals, NUL.
constexpr size_t fixed_chars_max = 1 + 309 + 1 + fixed_decimals_max + 1;

} // namespace

json_writer& json_writer::fixed(double value, int decimals) {
  if (!std::isfinite(value)) return null();
  if (decimals < 0) decimals = 0;
  if (decimals > fixed_decimals_max) decimals = fixed_decimals_max;
  separate();
  char digits[fixed_chars_max];
  int length = std::snprintf(digits, sizeof digits, "%.*f", decimals, value);
  out_.append(digits, static_cast<size_t>(length));
  comma_needed_ = true;
  return *this;
}

} // namespace tally
