#pragma once
// The registry's side of the entity lifecycle (users and identities alike):
// key -> live actor, with the counts the passivation handshake compares
// (actors/registry.hpp draws it). One table per entity kind; the registry
// owns them and the activation counter they share.
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>

#include "caf/actor_clock.hpp"

#include "protocols/caf_types.hpp"

namespace tally {

template <class Handle>
struct entity_entry {
  Handle handle;
  /// This incarnation's number: stale idle/down messages of an earlier one
  /// for the same key are recognised and ignored.
  uint64_t activation = 0;
  /// Messages sent to it (the handshake's half of the count).
  uint64_t forwarded = 0;
  /// When the last command was forwarded (virtual time under tests).
  caf::actor_clock::time_point last_forward{};
  /// It was sent a mutation: a drain must wait for it (reads need no flush).
  bool wrote = false;
};

template <class Handle>
class entity_table {
public:
  using entry = entity_entry<Handle>;
  using map_type = std::unordered_map<uuid, entry, uuid_hash>;

  /// The live entry of `id`, or nullptr.
  entry* find(const uuid& id) {
    auto found = entries_.find(id);
    return found == entries_.end() ? nullptr : &found->second;
  }

  /// The entry of `id` only if it is incarnation `activation`.
  entry* find(const uuid& id, uint64_t activation) {
    auto* found = find(id);
    return found != nullptr && found->activation == activation ? found : nullptr;
  }

  entry& insert(const uuid& id, Handle handle, uint64_t activation) {
    auto& slot = entries_[id];
    slot = entry{std::move(handle), activation, 0, {}, false};
    return slot;
  }

  /// Drops the mapping if it still names this incarnation.
  bool forget(const uuid& id, uint64_t activation) {
    auto found = entries_.find(id);
    if (found == entries_.end() || found->second.activation != activation) return false;
    entries_.erase(found);
    return true;
  }

  size_t size() const { return entries_.size(); }
  void clear() { entries_.clear(); }
  typename map_type::iterator begin() { return entries_.begin(); }
  typename map_type::iterator end() { return entries_.end(); }
  typename map_type::const_iterator begin() const { return entries_.begin(); }
  typename map_type::const_iterator end() const { return entries_.end(); }

private:
  map_type entries_;
};

} // namespace tally
