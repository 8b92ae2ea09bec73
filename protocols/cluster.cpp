#include "protocols/cluster.hpp"

namespace tally {

int shard_of(const uuid& key) {
  // FNV-1a: fixed constants, so a key maps to the same shard on every node
  // and every build (the shard count and this function are the contract).
  uint32_t hash = 2166136261u;
  for (uint8_t byte : key) {
    hash ^= byte;
    hash *= 16777619u;
  }
  return static_cast<int>(hash % static_cast<uint32_t>(shard_count));
}

} // namespace tally
