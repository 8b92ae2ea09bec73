#include "protocols/invariant.hpp"

#include <cstdio>
#include <cstdlib>

namespace tally {

void invariant_violated(const char* condition, std::string_view what, std::string_view entity,
                        const char* file, int line) {
  // stdio, not the logger: this must get out even if the logger is the bug.
  std::fprintf(stderr, "tally: invariant violated: %.*s (%s) for %.*s at %s:%d\n",
               static_cast<int>(what.size()), what.data(), condition,
               static_cast<int>(entity.size()), entity.data(), file, line);
  std::fflush(stderr);
  std::abort();
}

} // namespace tally
