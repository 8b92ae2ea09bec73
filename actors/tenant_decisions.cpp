#include "actors/tenant_decisions.hpp"

namespace tally {

std::optional<tenant_role> parse_tenant_role(std::string_view text) {
  if (text == "owner") return tenant_role::owner;
  if (text == "admin") return tenant_role::admin;
  if (text == "member") return tenant_role::member;
  return std::nullopt;
}

std::string_view to_string(tenant_role role) {
  switch (role) {
    case tenant_role::none: return "none";
    case tenant_role::member: return "member";
    case tenant_role::admin: return "admin";
    case tenant_role::owner: return "owner";
  }
  return "none";
}

error_code decide_access(tenant_role role, tenant_action action) {
  switch (action) {
    case tenant_action::view:
      return role >= tenant_role::member ? error_code::none : error_code::forbidden;
    case tenant_action::add_member:
    case tenant_action::activate_module:
    case tenant_action::deactivate_module:
      return role >= tenant_role::admin ? error_code::none : error_code::forbidden;
  }
  return error_code::forbidden;
}

bool assignable_role(tenant_role role) {
  return role == tenant_role::admin || role == tenant_role::member;
}

error_code decide_add_member(bool user_exists, tenant_role current_role_of_user) {
  if (!user_exists) return error_code::user_not_found;
  if (current_role_of_user != tenant_role::none) return error_code::already_member;
  return error_code::none;
}

error_code decide_activation(bool module_active, bool activation_in_flight) {
  if (module_active || activation_in_flight) return error_code::module_already_active;
  return error_code::none;
}

error_code decide_deactivation(bool module_active) {
  return module_active ? error_code::none : error_code::invalid_state;
}

std::string subscription_status(const std::string& stored, timestamp_us trial_ends_at,
                                timestamp_us now) {
  if (stored == "trialing" && now > trial_ends_at) return "expired";
  return stored;
}

bool subdomain_free_for(const uuid& holder, const uuid& reserved_by, const uuid& tenant) {
  bool asker_known = !tenant.is_nil();
  // A tenant asks to reserve only without an active module: a hold memory
  // still gives it is stale (it died before telling its release).
  if (!holder.is_nil() && !(asker_known && holder == tenant)) return false;
  return reserved_by.is_nil() || (asker_known && reserved_by == tenant);
}

} // namespace tally
