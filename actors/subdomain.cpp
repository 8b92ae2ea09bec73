#include "actors/subdomain.hpp"
#include "actors/load_refusal.hpp"

#include <algorithm>
#include <utility>

#include "caf/all.hpp"

#include "actors/dispatch.hpp"
#include "actors/lifecycle.hpp"
#include "actors/tenant_decisions.hpp"
#include "protocols/invariant.hpp"

namespace tally {

namespace {

using subdomain_pointer = subdomain_actor::stateful_pointer<subdomain_state>;
using phase = subdomain_state::phase;

/// Retry-After (seconds) when the holder cannot be loaded.
constexpr int subdomain_retry_after_s = 1;

failure store_unavailable() {
  return {error_code::store_unavailable, "the store is unavailable; retry", subdomain_retry_after_s};
}

bool reserved_name(const subdomain_state& st) {
  const auto& names = st.context->tenants.reserved_subdomains;
  return std::find(names.begin(), names.end(), st.subdomain) != names.end();
}

/// Reservations taken before this are lapsed.
timestamp_us live_since(const subdomain_state& st) {
  return st.context->clock() - micros(st.context->tenants.reservation_ttl);
}

/// The tenant whose claim on the name is due for a check, if any: a
/// reservation older than reservation_ttl, else a holder last confirmed
/// longer ago than that.
uuid lapsed_claimant(const subdomain_state& st) {
  auto since = live_since(st);
  if (!st.reserved_by.is_nil()) return st.reserved_at < since ? st.reserved_by : uuid{};
  if (!st.holder.is_nil() && st.holder_checked_at < since) return st.holder;
  return {};
}

/// A lapsed claim: ask its tenant what became of it. The answer comes back
/// as this actor's own confirm / release / reserve (renewal) command,
/// through the registry; meanwhile the claim stands.
void verify_lapsed(subdomain_pointer self) {
  auto& st = self->state;
  auto tenant = lapsed_claimant(st);
  if (tenant.is_nil() || st.verifying) return;
  st.verifying = true;
  auto registry = st.registry;
  auto name = st.subdomain;
  auto own_key = st.id;
  reply<subdomain_claim> answer(
    [registry, name, tenant, own_key](outcome<subdomain_claim> claim) {
      auto ignore = reply<bool>{[](outcome<bool>) {}};
      auto state = claim.ok() ? claim.value().state : std::string("reserving");
      if (state == "held")
        dispatch(registry, own_key, confirm_subdomain_request{name, tenant}, ignore);
      else if (state == "none")
        dispatch(registry, own_key, release_subdomain_request{name, tenant}, ignore);
      else  // still in flight, or no answer: renew and ask again later
        dispatch(registry, own_key, reserve_subdomain_request{name, tenant},
                 reply<subdomain_reservation>{[](outcome<subdomain_reservation>) {}});
    },
    failure{error_code::store_unavailable, "the tenant did not answer", subdomain_retry_after_s});
  dispatch(registry, tenant, verify_reservation_request{name}, std::move(answer));
}

/// Runs `then` once the holder of `name` is known (loaded on first use).
void ensure_loaded(subdomain_pointer self, const std::string& name, std::function<void()> then,
                   std::function<void(const failure&)> refuse) {
  auto& st = self->state;
  if (st.current == phase::active) {
    // Keys are name hashes: a different name here would be a collision or a bug.
    TALLY_INVARIANT(st.subdomain == name, "one subdomain actor per name", to_string(st.id));
    verify_lapsed(self);
    then();
    return;
  }
  if (st.current == phase::retiring) {
    refuse(store_unavailable());
    return;
  }
  self->request(st.reader, caf::infinite, load_subdomain_atom_v, name)
    .await(
      [self, name, then](subdomain_lookup& found) {
        auto& st = self->state;
        st.subdomain = name;
        st.holder = found.holder;
        st.holder_checked_at = st.context->clock();
        st.current = phase::active;
        then();
      },
      [refuse](caf::error& err) { refuse(load_refusal(err, store_unavailable())); });
}

// -- commands (protocols/commands.hpp) ---------------------------------------------

void handle(subdomain_pointer self, subdomain_status_request& cmd, reply<subdomain_view> done) {
  ensure_loaded(
    self, cmd.name,
    [self, done] {
      auto& st = self->state;
      bool available = !reserved_name(st) && subdomain_free_for(st.holder, st.reserved_by, uuid{});
      done(subdomain_view{st.subdomain, available});
    },
    fail_to(done));
}

void handle(subdomain_pointer self, reserve_subdomain_request& cmd,
            reply<subdomain_reservation> done) {
  ensure_loaded(
    self, cmd.name,
    [self, tenant = cmd.tenant, done] {
      auto& st = self->state;
      if (reserved_name(st) || !subdomain_free_for(st.holder, st.reserved_by, tenant)) {
        done(failure{error_code::subdomain_taken, "another tenant holds this subdomain", 0});
        return;
      }
      if (st.holder == tenant) st.holder = uuid{};  // stale (subdomain_free_for)
      st.reserved_by = tenant;
      st.reserved_at = st.context->clock();
      st.verifying = false;
      done(subdomain_reservation{st.subdomain, tenant});
    },
    fail_to(done));
}

/// Settles `tenant`'s claim on the name: held (it committed its hold) or
/// not (it gave the reservation up, or committed a release).
void settle(subdomain_pointer self, const std::string& name, const uuid& tenant, bool held,
            reply<bool> done) {
  ensure_loaded(
    self, name,
    [self, tenant, held, done] {
      auto& st = self->state;
      if (st.reserved_by == tenant) st.reserved_by = uuid{};
      // The store says so now, whatever memory held before.
      if (held)
        st.holder = tenant;
      else if (st.holder == tenant)
        st.holder = uuid{};
      st.holder_checked_at = st.context->clock();
      st.verifying = false;
      done(true);
    },
    fail_to(done));
}

void handle(subdomain_pointer self, confirm_subdomain_request& cmd, reply<bool> done) {
  settle(self, cmd.name, cmd.tenant, true, std::move(done));
}

void handle(subdomain_pointer self, release_subdomain_request& cmd, reply<bool> done) {
  settle(self, cmd.name, cmd.tenant, false, std::move(done));
}

} // namespace

subdomain_actor::behavior_type subdomain_behavior(subdomain_pointer self, uuid id,
                                                  uint64_t activation, registry_actor registry,
                                                  reader_actor reader,
                                                  const entity_context* context) {
  auto& st = self->state;
  init_entity_state(st, id, activation, std::move(registry), std::move(reader), context);
  // It hands the writer nothing, so no writer report ever comes.
  return entity_handlers<subdomain_command>(
    self, [self](auto& cmd, auto answer) { handle(self, cmd, std::move(answer)); },
    [](uint64_t) {}, [](uint64_t) {});
}

} // namespace tally
