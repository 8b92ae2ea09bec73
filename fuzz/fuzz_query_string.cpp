// Request targets and query strings: origin and absolute form, percent
// decoding. Properties: the path is a part of the target or "/"; a decoded
// value is never longer than its encoded text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz/fuzz_check.hpp"
#include "http/query_string.hpp"

using namespace tally;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view target(reinterpret_cast<const char*>(data), size);
  auto split = split_request_target(target);
  FUZZ_CHECK(split.path == "/" || target.find(split.path) != std::string_view::npos);
  FUZZ_CHECK(split.query.size() <= target.size());
  for (std::string_view name : {"limit", "cursor", "type", ""}) {
    if (auto value = query_param(split.query, name)) FUZZ_CHECK(value->size() <= split.query.size());
  }
  return 0;
}
