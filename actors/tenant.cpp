#include "actors/tenant.hpp"
#include "actors/load_refusal.hpp"

#include <utility>

#include "caf/all.hpp"

#include "actors/dispatch.hpp"
#include "actors/lifecycle.hpp"
#include "actors/tenant_decisions.hpp"
#include "protocols/invariant.hpp"
#include "protocols/log.hpp"

namespace tally {

namespace {

using tenant_pointer = tenant_actor::stateful_pointer<tenant_state>;
using phase = tenant_state::phase;

/// Subscription plan and statuses as stored (API.md).
constexpr const char* plan_trial = "trial";
constexpr const char* status_trialing = "trialing";
constexpr const char* status_cancelled = "cancelled";
constexpr const char* role_owner = "owner";

// -- answers -------------------------------------------------------------------------

failure store_unavailable() {
  return {error_code::store_unavailable, "the store is unavailable; retry", tenant_retry_after_s};
}

/// What a retiring tenant answers.
failure retiring_failure(const tenant_state& st) {
  return st.shard_refused ? shard_unavailable_failure() : store_unavailable();
}

failure refusal(error_code code) {
  switch (code) {
    case error_code::forbidden: return {code, "your role in this tenant does not allow this", 0};
    case error_code::tenant_not_found: return {code, "no such tenant", 0};
    case error_code::user_not_found: return {code, "no user has this email", 0};
    case error_code::already_member: return {code, "the user is already a member", 0};
    case error_code::module_already_active:
      return {code, "the tenant already has an active module", 0};
    case error_code::invalid_state: return {code, "the tenant has no active module", 0};
    default: return {code, to_string(code), 0};
  }
}

timestamp_us now_of(const tenant_state& st) {
  return st.context->clock();
}

tenant_role role_of(const tenant_state& st, const uuid& user) {
  auto found = st.members.find(user);
  if (found == st.members.end()) return tenant_role::none;
  return parse_tenant_role(found->second).value_or(tenant_role::none);
}

tenant_view view_of(const tenant_state& st) {
  tenant_view view;
  view.id = st.id;
  view.name = st.row.name;
  view.owner_id = st.row.owner_id;
  view.active_module = st.row.active_module;
  view.subdomain = st.row.subdomain;
  view.created_at = st.row.created_at;
  if (st.subscription) {
    const auto& sub = *st.subscription;
    view.subscription = subscription_view{
      sub.plan, subscription_status(sub.status, sub.trial_ends_at, now_of(st)), sub.trial_ends_at};
  }
  return view;
}

/// A reply nobody waits for (notices to other entities).
reply<bool> no_answer() {
  return reply<bool>{[](outcome<bool>) {}};
}

// -- other entities ------------------------------------------------------------------

/// Tells `user`'s actor its membership here (after the commit), so
/// /v1/auth/me lists it from memory.
void notify_member(tenant_pointer self, const uuid& user, const std::string& role) {
  auto& st = self->state;
  dispatch(st.registry, user,
           membership_changed_request{membership_view{st.id, st.row.name, role}}, no_answer());
}

void confirm_name(tenant_pointer self, const std::string& name) {
  auto& st = self->state;
  dispatch(st.registry, subdomain_key(name), confirm_subdomain_request{name, st.id}, no_answer());
}

void release_name(tenant_pointer self, const std::string& name) {
  auto& st = self->state;
  dispatch(st.registry, subdomain_key(name), release_subdomain_request{name, st.id}, no_answer());
}

/// Asks the name's subdomain actor to reserve it for this tenant; its
/// answer comes back through the registry as reservation_answer(attempt),
/// a command like any other (so it could come from another node).
void reserve_name(tenant_pointer self, uint64_t attempt, const std::string& name) {
  auto& st = self->state;
  auto registry = st.registry;
  auto tenant = st.id;
  reply<subdomain_reservation> answer(
    [registry, tenant, attempt, name](outcome<subdomain_reservation> result) {
      reservation_answer_request back;
      back.attempt = attempt;
      back.subdomain = name;
      back.granted = result.ok();
      if (!result.ok()) back.refusal = result.error();
      dispatch(registry, tenant, std::move(back), no_answer());
    },
    failure{error_code::store_unavailable, "the subdomain did not answer; retry", tenant_retry_after_s});
  dispatch(registry, subdomain_key(name), reserve_subdomain_request{name, tenant}, std::move(answer));
}

// -- writes --------------------------------------------------------------------------

/// Hands `records` with the tenant row `row` (fenced by its owner epoch) to
/// the writer: everything one command changes is one entity write, so one
/// transaction, and never split by the writer's bisection.
void write(tenant_pointer self, const tenant_row& row, write_batch records,
           std::function<void()> on_commit, std::function<void(const failure&)> on_fail) {
  auto& st = self->state;
  records.tenants.push_back(row);
  st.writes.submit(self, st.id, row.owner_epoch, std::move(records),
                   tenant_write{0, std::move(on_commit), std::move(on_fail)});
}

/// Runs the mutations that waited for an activation or deactivation.
void run_deferred(tenant_pointer self) {
  auto waiting = std::move(self->state.deferred);
  self->state.deferred.clear();
  for (auto& run : waiting) run();
}

/// Ends the activation or deactivation in flight: `answer()` replies to
/// it, then the mutations that waited for it run, in arrival order.
template <class Answer>
void finish_in_flight(tenant_pointer self, Answer&& answer) {
  auto& st = self->state;
  st.activating.reset();
  st.deactivating = false;
  answer();
  run_deferred(self);
}

/// A committed activation or deactivation: memory takes the committed row
/// and subscription.
void apply_committed(tenant_state& st, const tenant_row& row,
                     const std::optional<subscription_row>& sub) {
  st.row = row;
  st.subscription = sub;
}

/// Fails everything owed and hands the actor back to the registry; the
/// next command re-activates a fresh actor from the store.
void retire(tenant_pointer self) {
  auto& st = self->state;
  st.current = phase::retiring;
  auto owed = st.writes.take_all();
  auto why = retiring_failure(st);
  for (auto& pending : owed) pending.on_fail(why);
  if (st.activating) {
    // Still waiting for its reservation: the answer releases the name.
    auto pending = std::move(*st.activating);
    st.activating.reset();
    pending.done(why);
  }
  st.deactivating = false;
  run_deferred(self);
  ask_retirement(self);
}

// -- the one gate --------------------------------------------------------------------

/// Every command on an existing tenant comes through here: the tenant must
/// exist (404), the caller's role must allow `action` (403, decide_access),
/// and a mutation waits while an activation or deactivation is in flight
/// and is refused when no write can be accepted (503). Only then `run`.
void with_access(tenant_pointer self, const uuid& caller, tenant_action action, tenant_reply done,
                 std::function<void()> run) {
  auto& st = self->state;
  if (st.current == phase::retiring) return done(retiring_failure(st));
  if (st.current == phase::absent) return done(refusal(error_code::tenant_not_found));
  if (auto code = decide_access(role_of(st, caller), action); code != error_code::none)
    return done(refusal(code));
  if (action == tenant_action::view) return run();
  if (st.busy()) {
    if (st.deferred.size() >= st.context->pending_replies_max)
      return done(failure{error_code::overloaded, "too many requests for this tenant",
                          tenant_retry_after_s});
    st.deferred.push_back([self, caller, action, done, run = std::move(run)] {
      with_access(self, caller, action, done, run);
    });
    return;
  }
  if (auto refused = st.writes.refuse(*st.context, "tenant", tenant_retry_after_s))
    return done(*refused);
  run();
}

// -- activation --------------------------------------------------------------------

void on_loaded(tenant_pointer self, tenant_lookup& found) {
  auto& st = self->state;
  if (!found.tenant) {
    st.current = phase::absent;
    return;
  }
  auto& snapshot = *found.tenant;
  TALLY_INVARIANT(snapshot.tenant.owner_epoch > 0, "owner epoch bumped by activation",
                  to_string(st.id));
  st.row = std::move(snapshot.tenant);
  for (auto& member : snapshot.members) st.members[member.user_id] = std::move(member.role);
  st.subscription = std::move(snapshot.subscription);
  st.current = phase::active;
}

/// The reserved name is ours: module, subdomain hold and trial subscription
/// go to the store as one write; memory changes only once it committed.
void commit_activation(tenant_pointer self, pending_activation pending) {
  auto& st = self->state;
  auto now = now_of(st);
  auto row = st.row;
  row.active_module = pending.module;
  row.subdomain = pending.subdomain;
  subscription_row sub{st.context->new_id(), st.id,      pending.module,
                       plan_trial,           status_trialing,
                       now + micros(st.context->tenants.trial_length),
                       now,                  now};
  write_batch records;
  records.subdomains.push_back(subdomain_write{pending.subdomain, st.id, true, now});
  records.subscriptions.push_back(sub);
  auto name = pending.subdomain;
  auto done = pending.done;
  write(
    self, row, std::move(records),
    [self, row, sub, name, done] {
      auto& st = self->state;
      apply_committed(st, row, sub);
      // One module per tenant, one tenant per name: what was just committed.
      TALLY_INVARIANT(!st.row.active_module.empty() && st.row.subdomain == name,
                      "an activation commits module and subdomain together", to_string(st.id));
      confirm_name(self, name);
      finish_in_flight(self, [&] { done(view_of(st)); });
    },
    [self, name, done](const failure& why) {
      release_name(self, name);
      finish_in_flight(self, [&] { done(why); });
    });
}

// -- commands (protocols/commands.hpp) ---------------------------------------------

void handle(tenant_pointer self, create_tenant_request& cmd, tenant_reply done) {
  auto& st = self->state;
  if (st.current == phase::retiring) return done(retiring_failure(st));
  if (st.current != phase::absent)
    return done(failure{error_code::internal, "tenant id already in use", 0});
  if (auto refused = st.writes.refuse(*st.context, "tenant", tenant_retry_after_s))
    return done(*refused);
  auto now = now_of(st);
  // A new row starts at epoch 1; the next activation from the store bumps it.
  st.row = tenant_row{st.id, cmd.name, cmd.caller, {}, {}, 1, now};
  st.members[cmd.caller] = role_owner;
  st.current = phase::active;
  write_batch records;
  records.tenant_members.push_back(tenant_member_row{st.id, cmd.caller, role_owner, now});
  auto view = view_of(st);
  auto owner = cmd.caller;
  write(
    self, st.row, std::move(records),
    [self, view, owner, done] {
      notify_member(self, owner, role_owner);
      done(view);
    },
    fail_to(done));
}

void handle(tenant_pointer self, get_tenant_request& cmd, tenant_reply done) {
  with_access(self, cmd.caller, tenant_action::view, done,
              [self, done] { done(view_of(self->state)); });
}

void handle(tenant_pointer self, add_member_request& cmd, tenant_reply done) {
  with_access(self, cmd.caller, tenant_action::add_member, done, [self, cmd, done] {
    auto& st = self->state;
    auto role = parse_tenant_role(cmd.role);
    if (!role || !assignable_role(*role))
      return done(failure{error_code::validation_failed, "role must be admin or member", 0});
    if (auto code = decide_add_member(!cmd.user.is_nil(), role_of(st, cmd.user));
        code != error_code::none)
      return done(refusal(code));
    auto now = now_of(st);
    st.members[cmd.user] = cmd.role;
    write_batch records;
    records.tenant_members.push_back(tenant_member_row{st.id, cmd.user, cmd.role, now});
    auto view = view_of(st);
    view.member_id = cmd.user;
    view.member_role = cmd.role;
    write(
      self, st.row, std::move(records),
      [self, view, done] {
        notify_member(self, view.member_id, view.member_role);
        done(view);
      },
      fail_to(done));
  });
}

void handle(tenant_pointer self, activate_module_request& cmd, tenant_reply done) {
  with_access(self, cmd.caller, tenant_action::activate_module, done, [self, cmd, done] {
    auto& st = self->state;
    if (auto code = decide_activation(!st.row.active_module.empty(), st.activating.has_value());
        code != error_code::none)
      return done(refusal(code));
    // Unique across incarnations: a late answer for an earlier one is not ours.
    auto attempt = (st.activation << 24) + ++st.last_attempt;
    st.activating = pending_activation{attempt, cmd.module, cmd.subdomain, done};
    reserve_name(self, attempt, cmd.subdomain);
  });
}

void handle(tenant_pointer self, reservation_answer_request& cmd, reply<bool> done) {
  done(true);
  auto& st = self->state;
  bool ours = st.current == phase::active && st.activating && st.activating->attempt == cmd.attempt;
  if (!ours) {
    // This activation is gone (failed, or an earlier incarnation's): give
    // the name back at once rather than wait for the reservation to lapse.
    if (cmd.granted) release_name(self, cmd.subdomain);
    return;
  }
  if (!cmd.granted) {
    auto done = st.activating->done;
    finish_in_flight(self, [&] { done(cmd.refusal); });
    return;
  }
  commit_activation(self, *st.activating);
}

void handle(tenant_pointer self, verify_reservation_request& cmd, reply<subdomain_claim> done) {
  auto& st = self->state;
  if (st.current == phase::retiring) return done(retiring_failure(st));
  if (st.activating && st.activating->subdomain == cmd.subdomain)
    return done(subdomain_claim{"reserving"});
  if (st.current == phase::active && st.row.subdomain == cmd.subdomain)
    return done(subdomain_claim{"held"});
  done(subdomain_claim{"none"});
}

void handle(tenant_pointer self, deactivate_module_request& cmd, tenant_reply done) {
  with_access(self, cmd.caller, tenant_action::deactivate_module, done, [self, done] {
    auto& st = self->state;
    if (auto code = decide_deactivation(!st.row.active_module.empty()); code != error_code::none)
      return done(refusal(code));
    auto now = now_of(st);
    auto row = st.row;
    auto name = row.subdomain;
    row.active_module.clear();
    row.subdomain.clear();
    write_batch records;
    records.subdomains.push_back(subdomain_write{name, st.id, false, now});
    auto sub = st.subscription;
    if (sub && sub->status != status_cancelled) {
      sub->status = status_cancelled;
      sub->updated_at = now;
      records.subscriptions.push_back(*sub);
    }
    st.deactivating = true;
    write(
      self, row, std::move(records),
      [self, row, sub, name, done] {
        auto& st = self->state;
        apply_committed(st, row, sub);
        // Sent before the answer: whoever reserves the name after seeing it
        // freed reaches the subdomain actor after this (registry order).
        release_name(self, name);
        finish_in_flight(self, [&] { done(view_of(st)); });
      },
      [self, done](const failure& why) { finish_in_flight(self, [&] { done(why); }); });
  });
}

} // namespace

tenant_actor::behavior_type tenant_behavior(tenant_pointer self, uuid id, uint64_t activation,
                                            registry_actor registry, reader_actor reader,
                                            const entity_context* context) {
  auto& st = self->state;
  init_entity_state(st, id, activation, std::move(registry), std::move(reader), context);
  // await: commands wait in the mailbox until the snapshot is in.
  self->request(st.reader, caf::infinite, load_tenant_atom_v, id)
    .await([self](tenant_lookup& found) { on_loaded(self, found); },
           [self](caf::error& err) {
             self->state.shard_refused = to_error_code(err, error_code::none) == error_code::shard_unavailable;
             retire(self);
           });
  return entity_handlers<tenant_command>(
    self, [self](auto& cmd, auto answer) { handle(self, cmd, std::move(answer)); },
    [self](uint64_t token) { deliver_committed(self, token); },
    [self](uint64_t token) {
      retire_after_failed_write(self, token, "write failed; tenant reloads from the store",
                                "tenant_id", retire);
    });
}

} // namespace tally
