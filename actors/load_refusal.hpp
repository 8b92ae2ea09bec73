#pragma once
// What an entity answers when its activation (the store load) failed:
// cluster mode refuses an activation whose shard lease this node does not
// hold (fencing layer 1, persistence/shard_fence.hpp) with shard_unavailable
// (503 SHARD_UNAVAILABLE + Retry-After: the client retries and reaches the
// owner); every other failure keeps the kind's own answer (`otherwise`).
#include "caf/error.hpp"

#include "protocols/caf_types.hpp"
#include "protocols/outcome.hpp"

namespace tally {

/// Retry-After (seconds) when a shard is not served here now.
constexpr int shard_unavailable_retry_after_s = 1;

inline failure shard_unavailable_failure() {
  return {error_code::shard_unavailable, "this shard is moving between nodes; retry",
          shard_unavailable_retry_after_s};
}

inline failure load_refusal(const caf::error& error, failure otherwise) {
  if (to_error_code(error, error_code::store_unavailable) == error_code::shard_unavailable)
    return shard_unavailable_failure();
  return otherwise;
}

} // namespace tally
