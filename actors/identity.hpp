#pragma once
// The identity actor: the single owner of one email address or phone number
// that can log in. It issues magic links and phone codes (limited per
// identity; the per-client-IP limits are the login gate's, login_gate.hpp),
// judges them, links the identity to its user (creating that user on the
// first login, exactly once however many logins race) and asks the user
// actor to open a session. A verify reaches it only if its row exists (the
// gate checks): an identity never requested gets no actor.
//
//   spawn --> unresolved --first command with the value--> active --write_failed--> retiring
//                 |  (a magic-link verify carries no email: its   |                    |
//                 |   link is looked up first; the row exists)    | idle_query, nothing pending
//                 +-----------------------------------------------+--> idle(handled) --passivate--> quit
//
// Loads and lookups use `await`: an identity handles one command at a time,
// so two verifies of one token can never both find it unused. Logins are
// rare and rate-limited, which is what makes that serialisation affordable.
//
// Replies wait for the commit of the write they caused (durable ack: a link
// or code handed out exists in the store; a counted failure survives a
// crash). A successful login first commits its used-mark (and, the first
// time, the new user), then passes its reply on to the user actor, which
// answers after the session's commit.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/entity_context.hpp"
#include "actors/write_pipeline.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

/// Magic links of this activation kept in memory; beyond it the oldest
/// committed ones go (a hash not in memory is looked up in the store).
constexpr size_t magic_links_cached_max = 32;
/// Retry-After (seconds) suggested when an identity answers 503.
constexpr int identity_retry_after_s = 1;

/// A magic link this activation knows.
struct known_link {
  magic_link_row row;
  /// Token of the newest write that changed it: evictable once committed.
  uint64_t write_token = 0;
  uint64_t last_used = 0;
};

/// A write of this identity and what to do when the writer reports on it.
struct identity_write {
  uint64_t token = 0;
  std::function<void()> on_commit;
  std::function<void(const failure&)> on_fail;
};

struct identity_state {
  enum class phase : uint8_t {
    unresolved,  ///< not loaded yet (the value is learnt from a command)
    active,      ///< loaded and serving
    retiring,    ///< answering `retire_code` until the registry retires it
  };

  static inline const char* name = "tally.identity";

  uuid id{};
  uint64_t activation = 0;
  const entity_context* context = nullptr;
  registry_actor registry;
  reader_actor reader;

  phase current = phase::unresolved;
  error_code retire_code = error_code::none;
  /// Memory's view of the row (kind and value once active); owner_epoch
  /// fences every write.
  identity_row row;
  std::optional<login_code_row> code;
  std::unordered_map<std::string, known_link> links;
  uint64_t link_clock = 0;

  uint64_t handled = 0;
  /// Writes with the writer, and what each owes once committed.
  write_pipeline<identity_write> writes;

  // -- lifecycle predicates (lifecycle.hpp) --------------------------------------
  bool retiring() const { return current == phase::retiring; }
  /// Every store answer is awaited, so none can come back after a retirement.
  bool can_retire_now() const { return true; }
  bool idle_now() const { return current != phase::retiring && writes.empty(); }
};

/// Behaviour of one identity actor. Spawned by the registry; `activation` is
/// the registry's number for this incarnation (echoed in idle/down messages).
identity_actor::behavior_type identity_behavior(identity_actor::stateful_pointer<identity_state> self,
                                                uuid id, uint64_t activation,
                                                registry_actor registry, reader_actor reader,
                                                const entity_context* context);

} // namespace tally
