#pragma once
// Tenants and modules vocabulary (API.md "Tenants and modules"): what a
// tenant actor answers, what the subdomain actor answers, and the catalog
// settings both the HTTP door (422 validation) and the actors read.
//
// Roles travel as text ("owner", "admin", "member"): the decisions parse
// them (actors/tenant_decisions.hpp), the wire and the store keep them as
// the API names them.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/credits.hpp"
#include "protocols/fields.hpp"
#include "protocols/uuid.hpp"

namespace tally {

/// Module catalog, reserved names and trial length (API.md defaults); set
/// from app/settings.
struct tenant_config {
  std::vector<std::string> modules{"shop", "crm", "booking"};
  std::vector<std::string> reserved_subdomains{"www", "api", "admin", "app", "mail"};
  /// A new module starts a trial of this length.
  std::chrono::hours trial_length{24 * 14};
  /// A subdomain reservation not confirmed or released within this is
  /// given up (its tenant died between reserve and commit); the store's
  /// unique constraint still guards a late commit.
  std::chrono::milliseconds reservation_ttl{30'000};
};

/// POST /v1/tenants: name 1..100 characters (API.md).
inline constexpr size_t tenant_name_chars_max = 100;

/// A tenant's current (or last) subscription. `status` as stored:
/// "trialing" or "cancelled"; the view says "expired" for a trial past
/// trial_ends_at (tenant_decisions: subscription_status).
struct subscription_view {
  std::string plan;
  std::string status;
  timestamp_us trial_ends_at = 0;
};

/// What every tenant command answers: the tenant as GET shows it, plus the
/// member a POST .../members added.
struct tenant_view {
  uuid id{};
  std::string name;
  uuid owner_id{};
  std::string active_module;  ///< empty = null
  std::string subdomain;      ///< empty = null
  std::optional<subscription_view> subscription;
  timestamp_us created_at = 0;
  /// POST .../members: the added user (nil otherwise).
  uuid member_id{};
  std::string member_role;
};

/// GET /v1/subdomains/{name}.
struct subdomain_view {
  std::string name;
  bool available = false;
};

/// The subdomain actor's answer to a reservation: granted (else a failure
/// subdomain_taken comes instead).
struct subdomain_reservation {
  std::string name;
  uuid tenant{};
};

/// A tenant's word on a lapsed reservation (verify_reservation_request):
/// "reserving", "held" or "none".
struct subdomain_claim {
  std::string state;
};

/// The user an email belongs to (nil = no such user), from its identity.
struct user_lookup {
  uuid user{};
};

/// The subdomain actor's key: a name-based UUID (v5) of the lower-case
/// name, so any node routes a name to one actor without a lookup.
uuid subdomain_key(std::string_view name);

/// True if `name` matches ^[a-z0-9]([a-z0-9-]{1,61}[a-z0-9])$ (API.md).
bool subdomain_syntax_ok(std::string_view name);

TALLY_FIELDS(subscription_view, x.plan, x.status, x.trial_ends_at)
TALLY_FIELDS(tenant_view, x.id, x.name, x.owner_id, x.active_module, x.subdomain, x.subscription,
             x.created_at, x.member_id, x.member_role)
TALLY_FIELDS(subdomain_view, x.name, x.available)
TALLY_FIELDS(subdomain_reservation, x.name, x.tenant)
TALLY_FIELDS(user_lookup, x.user)
TALLY_FIELDS(subdomain_claim, x.state)

} // namespace tally
