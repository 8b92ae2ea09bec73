#include "protocols/uuid.hpp"

#include "protocols/hex.hpp"

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

namespace tally {

std::optional<uuid> parse_uuid(std::string_view text) {
  // Strict: exactly 36 characters with dashes at 8, 13, 18, 23. Boost's
  // string_generator also accepts braces and missing dashes, which we do not
  // want in paths.
  constexpr size_t canonical_length = 36;
  if (text.size() != canonical_length) return std::nullopt;
  uuid id{};
  size_t byte = 0;
  for (size_t i = 0; i < text.size();) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (text[i] != '-') return std::nullopt;
      ++i;
      continue;
    }
    int hi = hex_digit_value(text[i]);
    int lo = hex_digit_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    id.data[byte++] = static_cast<uint8_t>(hi * 16 + lo);
    i += 2;
  }
  return id;
}

std::string to_string(const uuid& id) {
  return boost::uuids::to_string(id);
}

uuid random_uuid() {
  // Ids of charges and ledger entries need to be unique, not secret (secrets
  // come from OpenSSL's RAND_bytes). Boost 1.74's random_generator asks the
  // OS for entropy on every call, a syscall on the hot path (~4% of a
  // charge); a Mersenne Twister seeded once per thread from the OS does not.
  thread_local boost::uuids::random_generator_mt19937 generator;
  return generator();
}

} // namespace tally
