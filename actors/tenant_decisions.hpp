#pragma once
// The tenant's decisions as pure functions of its state and the command:
// who may do what (the one access decision every tenant command passes
// through), and whether the tenant's state allows it. The tenant actor
// applies them; tests/actors/tenant_decisions_test.cpp checks them alone.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/credits.hpp"
#include "protocols/error_code.hpp"
#include "protocols/uuid.hpp"

namespace tally {

/// A caller's standing in one tenant, weakest first.
enum class tenant_role : uint8_t {
  none,    ///< not a member
  member,  ///< may view
  admin,   ///< may also add members and (de)activate the module
  owner,   ///< the creator; as admin, and the one role nobody can be given
};

/// "owner", "admin", "member" -> the role; anything else -> nullopt.
std::optional<tenant_role> parse_tenant_role(std::string_view text);

/// The API's name of a role ("none" for a non-member).
std::string_view to_string(tenant_role role);

/// What a tenant command asks to do.
enum class tenant_action : uint8_t {
  view,               ///< GET /v1/tenants/{id}
  add_member,         ///< POST /v1/tenants/{id}/members
  activate_module,    ///< POST .../modules/activate
  deactivate_module,  ///< POST .../modules/deactivate
};

/// The one access decision: error_code::none if a caller of `role` may do
/// `action`, else forbidden. Non-members may do nothing; members may view;
/// admins and owners may do everything.
error_code decide_access(tenant_role role, tenant_action action);

/// Whether a new member may be given `role` (admin or member; never owner).
bool assignable_role(tenant_role role);

/// Adding a member: user_not_found (no user has the email), already_member,
/// or none.
error_code decide_add_member(bool user_exists, tenant_role current_role_of_user);

/// Activating a module: module_already_active if one is active or another
/// activation of this tenant is in flight (it will decide), else none.
error_code decide_activation(bool module_active, bool activation_in_flight);

/// Deactivating: invalid_state without an active module, else none.
error_code decide_deactivation(bool module_active);

/// The status a client sees: a stored "trialing" past trial_ends_at reads
/// "expired"; anything else as stored.
std::string subscription_status(const std::string& stored, timestamp_us trial_ends_at,
                                timestamp_us now);

/// Whether the subdomain is free for `tenant`: nobody holds it and nobody
/// else has it reserved (a lapsed reservation stands until its tenant said
/// what became of it). The nil tenant asks for anyone (availability). A
/// tenant's own hold does not stop it: it reserves only without a module,
/// so that hold is stale.
bool subdomain_free_for(const uuid& holder, const uuid& reserved_by, const uuid& tenant);

} // namespace tally
