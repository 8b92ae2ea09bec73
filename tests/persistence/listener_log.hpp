#pragma once
// A fake write listener for the writer tests: records which tokens the
// writer reported committed and which failed.
#include <cstdint>
#include <memory>
#include <vector>

#include "protocols/caf_types.hpp"

namespace tally::test {

/// What a fake write listener was told.
struct listener_log {
  std::vector<uint64_t> committed;
  std::vector<uint64_t> failed;
};

inline write_listener::behavior_type fake_listener(write_listener::pointer, std::shared_ptr<listener_log> log) {
  return {
    [log](committed_atom, uint64_t token) { log->committed.push_back(token); },
    [log](write_failed_atom, uint64_t token) { log->failed.push_back(token); },
  };
}

} // namespace tally::test
