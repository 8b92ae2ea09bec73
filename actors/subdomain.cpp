#include "actors/subdomain.hpp"

#include <algorithm>
#include <utility>

#include "caf/all.hpp"

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

bool reservation_lapsed(const subdomain_state& st) {
  return !st.reserved_by.is_nil() && st.reserved_at < live_since(st);
}

/// Runs `then` once the holder of `name` is known: loaded on first use,
/// and again when a reservation lapsed. Its tenant died between reserve and
/// commit, or is slow: whether its hold committed only the store knows
/// (assuming "free" would offer a name the store has given away).
void ensure_loaded(subdomain_pointer self, const std::string& name, std::function<void()> then,
                   std::function<void(const failure&)> refuse) {
  auto& st = self->state;
  if (st.current == phase::active && !reservation_lapsed(st)) {
    // Keys are name hashes: a different name here would be a collision or a bug.
    TALLY_INVARIANT(st.subdomain == name, "one subdomain actor per name", to_string(st.id));
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
        st.reserved_by = uuid{};
        st.current = phase::active;
        then();
      },
      [refuse](caf::error&) { refuse(store_unavailable()); });
}

// -- commands (protocols/commands.hpp) ---------------------------------------------

void handle(subdomain_pointer self, subdomain_status_request& cmd, reply<subdomain_view> done) {
  ensure_loaded(
    self, cmd.name,
    [self, done] {
      auto& st = self->state;
      bool available = !reserved_name(st)
                       && subdomain_free_for(st.holder, st.reserved_by, st.reserved_at,
                                             live_since(st), uuid{});
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
      if (reserved_name(st)
          || !subdomain_free_for(st.holder, st.reserved_by, st.reserved_at, live_since(st),
                                 tenant)) {
        done(failure{error_code::subdomain_taken, "another tenant holds this subdomain", 0});
        return;
      }
      st.reserved_by = tenant;
      st.reserved_at = st.context->clock();
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
