// The Idempotency-Key header. Properties: an accepted key has 1..255
// printable ASCII characters; a key accepted bare is accepted the same
// when sent as an RFC 8941 quoted string, and names the same key.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "http/idempotency_key.hpp"

using namespace tally;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto result = parse_idempotency_key(true, bytes);
  if (result.status != idempotency_key_status::ok) return 0;
  FUZZ_CHECK(!result.key.empty() && result.key.size() <= idempotency_key_chars_max);
  for (char c : result.key) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
  if (result.key.find_first_of("\"\\") == std::string::npos && bytes.front() != '"') {
    auto quoted = parse_idempotency_key(true, "\"" + result.key + "\"");
    FUZZ_CHECK(quoted.status == idempotency_key_status::ok && quoted.key == result.key);
  }
  return 0;
}
