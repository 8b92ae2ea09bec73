#pragma once
// The tenant actor: the single owner of one tenant's members and roles, its
// active module, its subdomain and its subscription. Every command passes
// one access decision (decide_access, actors/tenant_decisions.hpp) on the
// caller's role before anything else, so no endpoint can skip it.
//
//   spawn --load--> loading --snapshot--> active ------write_failed------> retiring
//                      |                    ^                                  |
//                      +--no row--> absent -+ create (committed)               |
//                      +--load error-------------------------------------------+
//
// Activation is a small protocol, not a lock:
//
//   activate --decide_access, decide_activation--> reserve(name) --registry--> subdomain
//   subdomain --reservation_answer(attempt)--registry--> tenant
//     refused : answer SUBDOMAIN_TAKEN; nothing was written
//     granted : ONE write = tenant row (module, subdomain) + subdomain hold +
//               trial subscription  -> one entity write, so one transaction
//       committed : confirm(name) to the subdomain; answer 200
//       failed    : release(name) to the subdomain; answer the failure;
//                   the tenant retires and reloads (memory never ran ahead:
//                   the activation is applied only once committed)
//
// While an activation is in flight the tenant's other mutations wait (in
// arrival order, bounded by the write window), then are decided against the
// outcome: concurrent activations after a success answer
// MODULE_ALREADY_ACTIVE, after a failure the next one tries.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "actors/entity_context.hpp"
#include "actors/write_pipeline.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

/// Retry-After (seconds) suggested when a tenant answers 503.
constexpr int tenant_retry_after_s = 1;

using tenant_reply = reply<tenant_view>;

/// A write of this tenant and what to do when the writer reports on it.
struct tenant_write {
  uint64_t token = 0;
  std::function<void()> on_commit;
  std::function<void(const failure&)> on_fail;
};

/// The activation waiting for its subdomain reservation.
struct pending_activation {
  uint64_t attempt = 0;
  std::string module;
  std::string subdomain;
  tenant_reply done;
};

struct tenant_state {
  enum class phase : uint8_t {
    loading,   ///< waiting for the snapshot; commands wait in the mailbox
    absent,    ///< no such tenant (yet): only create is served
    active,    ///< loaded (or created) and serving
    retiring,  ///< answering 503 until the registry retires it
  };

  static inline const char* name = "tally.tenant";

  uuid id{};
  uint64_t activation = 0;
  /// Cluster: its activation was refused (shard lease not held here), so
  /// what it answers while retiring is shard_unavailable.
  bool shard_refused = false;
  const entity_context* context = nullptr;
  registry_actor registry;
  reader_actor reader;

  phase current = phase::loading;
  /// Memory's view of the row; owner_epoch fences every write.
  tenant_row row;
  /// user -> role ("owner", "admin", "member").
  std::map<uuid, std::string> members;
  /// The newest subscription, cancelled or not.
  std::optional<subscription_row> subscription;

  std::optional<pending_activation> activating;
  /// A deactivation's write is with the writer (applied once committed).
  bool deactivating = false;
  uint64_t last_attempt = 0;
  /// Mutations that arrived while an activation was in flight, oldest first.
  std::deque<std::function<void()>> deferred;

  uint64_t handled = 0;
  write_pipeline<tenant_write> writes;

  /// An activation or deactivation is in flight: other mutations wait.
  bool busy() const { return activating.has_value() || deactivating; }

  // -- lifecycle predicates (lifecycle.hpp) --------------------------------------
  bool retiring() const { return current == phase::retiring; }
  /// The load is awaited; a reservation answer comes as a command.
  bool can_retire_now() const { return true; }
  bool idle_now() const {
    return current != phase::retiring && writes.empty() && !busy() && deferred.empty();
  }
};

/// Behaviour of one tenant actor (spawned by the registry).
tenant_actor::behavior_type tenant_behavior(tenant_actor::stateful_pointer<tenant_state> self,
                                            uuid id, uint64_t activation, registry_actor registry,
                                            reader_actor reader, const entity_context* context);

} // namespace tally
