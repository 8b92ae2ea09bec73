#pragma once
// The login gate: the front door of every anonymous auth command, between
// the gateway and the registry. Anonymous clients must not be able to grow
// memory or the store (issue 9): nothing is read, spawned or written for a
// command until its endpoint's per-client-IP limit allows it, and a verify
// for an identity that was never requested is refused here, without an
// identity actor and without a row.
//
//   command --its endpoint's per-IP limiter--> 429 RATE_LIMITED (nothing read or written)
//      | allowed
//      +-- magic-link / code request ---------------------------------------> registry
//      +-- magic-link / code verify: does the identity's row exist?
//      |     yes (one grouped read, reader.hpp) ------------------------------> registry
//      |     no (or remembered as unknown) --> INVALID_TOKEN / INVALID_CODE,
//      |        a sampled audit row (audit_budget.hpp), no actor, no row
//      +-- refresh -----------------------------------------------------------> registry
//
// Why the row is the test: an identity actor creates its row (a reader
// transaction) before it issues anything, so every link or code that can be
// valid, committed or still in memory, belongs to an identity whose row
// exists. A magic-link token names its identity; a code verify names the
// phone. Identities remembered as unknown are forgotten when a request for
// them passes, and a probe's "unknown" is only remembered if no request
// passed while it was read (the row may be new). In cluster mode nothing is
// remembered: requests pass through other nodes' gates too.
//
// One actor: every step is a message to a limiter shard or a reader and its
// continuation (`then`), never a wait, so it only routes.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_set>
#include <vector>

#include "caf/timespan.hpp"

#include "actors/entity_context.hpp"
#include "actors/write_pipeline.hpp"
#include "protocols/caf_types.hpp"

namespace tally {

/// How long the gate waits for a per-IP limiter's answer before it answers
/// OVERLOADED (no fail-open).
constexpr caf::timespan ip_limiter_answer_max = std::chrono::seconds(2);

/// Retry-After (seconds) when the gate answers 503.
constexpr int gate_retry_after_s = 1;

/// The anonymous auth endpoints, each with its own per-IP limit.
enum class anonymous_route : uint8_t {
  magic_link,
  magic_link_verify,
  code,
  code_verify,
  refresh,
};
constexpr size_t anonymous_route_count = 5;

/// Each route's limiter shards (an empty list: that route has no per-IP limit).
using anonymous_limiters = std::array<std::vector<ip_limiter_actor>, anonymous_route_count>;

/// Identity ids known to have no row, bounded: the oldest go first.
class unknown_identities {
public:
  explicit unknown_identities(size_t max) : max_(max) {}
  bool contains(const uuid& id) const { return ids_.count(id) > 0; }
  void remember(const uuid& id);
  void forget(const uuid& id) { ids_.erase(id); }
  size_t size() const { return ids_.size(); }

private:
  size_t max_;
  std::unordered_set<uuid, uuid_hash> ids_;
  /// Insertion order; may hold ids forgotten since (they cost a slot until popped).
  std::deque<uuid> order_;
};

/// A refusal waiting for its audit row's commit (answered either way).
struct gated_refusal {
  uint64_t token = 0;
  failure why;
  completion done;
};

struct login_gate_state {
  static inline const char* name = "tally.login_gate";
  registry_actor registry;
  std::vector<reader_actor> readers;
  size_t next_reader = 0;
  const entity_context* context = nullptr;
  anonymous_limiters limiters;
  unknown_identities unknown{1};
  /// Requests passed so far: a probe started before one passed may be stale.
  uint64_t requests_passed = 0;
  /// Audit rows with the writer, and the refusals that wait for them.
  write_pipeline<gated_refusal> audits;
};

/// Behaviour of the gate. `readers` must not be empty; `context` outlives it.
login_gate_actor::behavior_type login_gate_behavior(
  login_gate_actor::stateful_pointer<login_gate_state> self, registry_actor registry,
  std::vector<reader_actor> readers, anonymous_limiters limiters, const entity_context* context);

} // namespace tally
