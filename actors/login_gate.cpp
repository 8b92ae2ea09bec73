#include "actors/login_gate.hpp"

#include <functional>
#include <string>
#include <utility>
#include <variant>

#include "caf/all.hpp"

#include "actors/audit.hpp"
#include "actors/audit_budget.hpp"
#include "actors/login_decisions.hpp"
#include "actors/rate_limit.hpp"
#include "protocols/commands.hpp"
#include "protocols/log.hpp"

namespace tally {

namespace {

using gate_pointer = login_gate_actor::stateful_pointer<login_gate_state>;

/// What the gate needs to know of one anonymous command.
struct gated {
  anonymous_route route = anonymous_route::refresh;
  request_origin origin;
  /// A verify: refused here when its identity has no row.
  bool verify = false;
  /// A request: may create its identity's row.
  bool creates = false;
  /// The refusal of a verify for an unknown identity, and its audit detail.
  error_code unknown_code = error_code::none;
  const char* unknown_detail = "";
};

/// Anything else is not anonymous: the gateway never sends it here.
template <class Command>
std::optional<gated> classify(const Command&) {
  return std::nullopt;
}
std::optional<gated> classify(const magic_link_request& cmd) {
  return gated{anonymous_route::magic_link, cmd.origin, false, true};
}
std::optional<gated> classify(const verify_link_request& cmd) {
  return gated{anonymous_route::magic_link_verify, cmd.origin, true, false,
               error_code::invalid_token, "unknown_token"};
}
std::optional<gated> classify(const code_request& cmd) {
  return gated{anonymous_route::code, cmd.origin, false, true};
}
std::optional<gated> classify(const verify_code_request& cmd) {
  return gated{anonymous_route::code_verify, cmd.origin, true, false, error_code::invalid_code,
               "no_code"};
}
std::optional<gated> classify(const refresh_request& cmd) {
  return gated{anonymous_route::refresh, cmd.origin};
}

std::optional<gated> classify_command(const entity_command& command) {
  return std::visit(
    [](const auto& of_kind) {
      return std::visit([](const auto& cmd) { return classify(cmd); }, of_kind);
    },
    command);
}

const reader_actor& next_reader(login_gate_state& st) {
  return st.readers[st.next_reader++ % st.readers.size()];
}

void pass(gate_pointer self, const uuid& key, entity_command& command, completion& done) {
  self->send(self->state.registry, key, std::move(command), std::move(done));
}

/// Refuses a verify for an identity that has no row. Its audit row is
/// sampled (audit_budget.hpp); an admitted one is committed before the
/// answer, like the identity's own failures, a dropped one costs nothing.
void refuse_unknown(gate_pointer self, const gated& what, completion& done) {
  auto& st = self->state;
  auto why = login_refusal(what.unknown_code);
  const auto& context = *st.context;
  auto now = context.clock();
  // When no write may be accepted (full backlog, too many rows waiting), the
  // refusal stands without its row.
  auto admitted = st.audits.refuse(context, "login gate", gate_retry_after_s)
                    ? std::nullopt
                    : admit_audit(context.login_failure_audits, now);
  if (!admitted) {
    fail(done, why);
    return;
  }
  write_batch records;
  records.audit.push_back(make_audit(now, audit_event::login_failed, what.origin, uuid{}, uuid{},
                                     audit_detail_after_gap(what.unknown_detail, *admitted)));
  // The gate's audit rows fence nothing: one entity (nil), one epoch.
  st.audits.submit(self, uuid{}, 0, std::move(records), gated_refusal{0, why, std::move(done)});
}

void answer_all(std::vector<gated_refusal> owed) {
  for (auto& refusal : owed) fail(refusal.done, refusal.why);
}

/// A verify: passes if its identity has a row, else is refused here.
void probe(gate_pointer self, const uuid& key, entity_command& command, completion& done,
           const gated& what) {
  auto& st = self->state;
  if (st.unknown.contains(key)) {
    refuse_unknown(self, what, done);
    return;
  }
  auto started = st.requests_passed;
  // No time-out (and no clock entry per probe, CAF-0.17.md §4): a reader
  // always answers, overloaded at once when its bounded queue is full.
  self->request(next_reader(st), caf::infinite, probe_identity_atom_v, key)
    .then(
      [self, key, command, done, what, started](bool known) mutable {
        auto& st = self->state;
        if (known) {
          pass(self, key, command, done);
          return;
        }
        // In a cluster a request may pass through another node's gate (and
        // reach the owner as an arrival, past every gate): this gate would
        // never hear of it, so it remembers nothing and probes each time.
        bool clustered = st.context->shards != nullptr;
        if (st.requests_passed == started && !clustered) st.unknown.remember(key);
        refuse_unknown(self, what, done);
      },
      [done](caf::error& err) mutable {
        auto code = to_error_code(err, error_code::store_unavailable);
        fail(done, code == error_code::overloaded
                     ? failure{code, "too many reads are waiting; retry", gate_retry_after_s}
                     : failure{error_code::store_unavailable, "the store is unavailable; retry",
                               gate_retry_after_s});
      });
}

/// After the per-IP limit allowed it.
void admitted(gate_pointer self, const uuid& key, entity_command& command, completion& done,
              const gated& what) {
  auto& st = self->state;
  if (what.verify) {
    probe(self, key, command, done, what);
    return;
  }
  if (what.creates) {
    ++st.requests_passed;
    st.unknown.forget(key);
  }
  pass(self, key, command, done);
}

const char* limited_why(anonymous_route route) {
  switch (route) {
    case anonymous_route::magic_link: return "too many magic links from this address";
    case anonymous_route::magic_link_verify: return "too many magic-link attempts from this address";
    case anonymous_route::code: return "too many codes from this address";
    case anonymous_route::code_verify: return "too many code attempts from this address";
    case anonymous_route::refresh: return "too many refreshes from this address";
  }
  return "too many requests from this address";
}

/// Asks the client IP's limiter shard of the command's route. No limiter
/// configured means no per-IP limit; a limiter that does not answer means
/// OVERLOADED (never fail-open).
void gate(gate_pointer self, const uuid& key, entity_command& command, completion& done) {
  auto what = classify_command(command);
  if (!what) {
    pass(self, key, command, done);
    return;
  }
  const auto& shards = self->state.limiters[static_cast<size_t>(what->route)];
  if (shards.empty()) {
    admitted(self, key, command, done, *what);
    return;
  }
  const auto& ip = what->origin.client_ip;
  const auto& shard = shards[std::hash<std::string>{}(ip) % shards.size()];
  self->request(shard, ip_limiter_answer_max, ip_check_atom_v, ip)
    .then(
      [self, key, command, done, what = *what](ip_verdict& verdict) mutable {
        if (verdict.allowed)
          admitted(self, key, command, done, what);
        else
          fail(done, failure{error_code::rate_limited, limited_why(what.route),
                             retry_after_seconds(verdict.retry_after_us)});
      },
      [done](caf::error&) mutable {
        fail(done, failure{error_code::overloaded, "the rate limiter did not answer",
                           gate_retry_after_s});
      });
}

} // namespace

void unknown_identities::remember(const uuid& id) {
  if (!ids_.insert(id).second) return;
  order_.push_back(id);
  while (order_.size() > max_) {
    ids_.erase(order_.front());
    order_.pop_front();
  }
}

login_gate_actor::behavior_type login_gate_behavior(gate_pointer self, registry_actor registry,
                                                    std::vector<reader_actor> readers,
                                                    anonymous_limiters limiters,
                                                    const entity_context* context) {
  auto& st = self->state;
  st.registry = std::move(registry);
  st.readers = std::move(readers);
  st.limiters = std::move(limiters);
  st.context = context;
  st.unknown = unknown_identities{std::max<size_t>(context->auth.unknown_identities_cached_max, 1)};
  return {
    [self](const uuid& key, entity_command& command, completion& done) {
      gate(self, key, command, done);
    },
    [self](committed_atom, uint64_t token) {
      answer_all(self->state.audits.take_committed(token, uuid{}));
    },
    [self](write_failed_atom, uint64_t) {
      // The refusals stand; only their audit rows are lost (the writer logs it).
      answer_all(self->state.audits.take_all());
    },
  };
}

} // namespace tally
