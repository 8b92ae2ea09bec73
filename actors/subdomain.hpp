#pragma once
// The subdomain actor: the single owner of one name's holder (which tenant
// has it) and of the short-lived reservation a tenant takes while it
// commits an activation (actors/tenant.hpp draws the protocol). It writes
// nothing itself: the holder is committed by the tenant, in the same write
// as its module and subscription, and confirmed here afterwards.
//
//   spawn --first command (names it)--> load holder --> active
//   reserve(t): free for t ? reserved_by = t : SUBDOMAIN_TAKEN
//   confirm(t): holder = t          release(t): no reservation or hold by t
//
// A reservation neither confirmed nor released within reservation_ttl (its
// tenant died between reserve and commit, or is slow) is checked with the
// tenant, the one that knows: still reserving (renewed), held (confirmed)
// or none (released). Until the tenant answers, the reservation stands. A
// holder is checked the same way once per reservation_ttl when the name is
// asked for: a tenant that died between committing its deactivation and
// telling this actor would otherwise keep the name taken in memory.
#include <cstdint>
#include <functional>
#include <string>

#include "actors/entity_context.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

struct subdomain_state {
  enum class phase : uint8_t {
    unresolved,  ///< the name is learnt from the first command, then loaded
    active,      ///< loaded and serving
    retiring,    ///< the load failed: 503 until the registry retires it
  };

  static inline const char* name = "tally.subdomain";

  uuid id{};
  uint64_t activation = 0;
  const entity_context* context = nullptr;
  registry_actor registry;
  reader_actor reader;

  phase current = phase::unresolved;
  std::string subdomain;
  /// Committed holder (nil: free), as of holder_checked_at.
  uuid holder{};
  timestamp_us holder_checked_at = 0;
  /// Reservation in flight (nil: none) and when it was taken.
  uuid reserved_by{};
  timestamp_us reserved_at = 0;
  /// A lapsed reservation's tenant was asked what became of it.
  bool verifying = false;

  uint64_t handled = 0;

  // -- lifecycle predicates (lifecycle.hpp) --------------------------------------
  bool retiring() const { return current == phase::retiring; }
  bool can_retire_now() const { return true; }
  /// A reservation lives in memory only: keep it until it is settled.
  bool idle_now() const { return current != phase::retiring && reserved_by.is_nil(); }
};

/// Behaviour of one subdomain actor (spawned by the registry).
subdomain_actor::behavior_type subdomain_behavior(
  subdomain_actor::stateful_pointer<subdomain_state> self, uuid id, uint64_t activation,
  registry_actor registry, reader_actor reader, const entity_context* context);

} // namespace tally
