// The opaque ?cursor= of the ledger. Properties: a decoded cursor is a
// positive seq that encodes back to exactly the same text (one spelling per
// cursor: no forged variants).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "http/ledger_cursor.hpp"

using namespace tally;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto seq = decode_ledger_cursor(bytes);
  if (!seq) return 0;
  FUZZ_CHECK(*seq > 0);
  FUZZ_CHECK(encode_ledger_cursor(*seq) == bytes);
  return 0;
}
