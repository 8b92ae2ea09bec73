#include "http/routes.hpp"

#include "http/auth_routes.hpp"
#include "http/credits_routes.hpp"
#include "http/ops_routes.hpp"
#include "http/tenant_routes.hpp"

namespace tally {

router make_api_router() {
  using boost::beast::http::verb;
  router table;
  // Ops (public).
  table.add("/healthz", {verb::get, "get_health", auth_kind::none, body_kind::none,
                         idempotency_kind::none, get_health});
  table.add("/readyz", {verb::get, "get_readiness", auth_kind::none, body_kind::none,
                        idempotency_kind::none, get_readiness});
  table.add("/metrics", {verb::get, "get_metrics", auth_kind::none, body_kind::none,
                         idempotency_kind::none, get_metrics});
  // Auth (API.md, Auth). Logins and refresh are public: the credential is
  // in the body. Logout reads no body (an empty POST needs no Content-Type).
  table.add("/v1/auth/magic-link", {verb::post, "request_magic_link", auth_kind::none,
                                    body_kind::json, idempotency_kind::none, request_magic_link});
  table.add("/v1/auth/magic-link/verify",
            {verb::post, "verify_magic_link", auth_kind::none, body_kind::json,
             idempotency_kind::none, verify_magic_link});
  table.add("/v1/auth/code", {verb::post, "request_code", auth_kind::none, body_kind::json,
                              idempotency_kind::none, request_code});
  table.add("/v1/auth/code/verify", {verb::post, "verify_code", auth_kind::none, body_kind::json,
                                     idempotency_kind::none, verify_code});
  table.add("/v1/auth/refresh", {verb::post, "refresh_session", auth_kind::none, body_kind::json,
                                 idempotency_kind::none, refresh_session});
  table.add("/v1/auth/me", {verb::get, "get_me", auth_kind::user, body_kind::none,
                            idempotency_kind::none, get_me});
  table.add("/v1/auth/logout", {verb::post, "logout", auth_kind::user, body_kind::none,
                                idempotency_kind::none, logout});
  // Credits (API.md, Credits).
  table.add("/v1/me/balance", {verb::get, "get_balance", auth_kind::user, body_kind::none,
                               idempotency_kind::none, get_balance});
  table.add("/v1/me/ledger", {verb::get, "list_ledger", auth_kind::user, body_kind::none,
                              idempotency_kind::none, list_ledger});
  table.add("/v1/me/charges", {verb::post, "create_charge", auth_kind::user, body_kind::json,
                               idempotency_kind::required, create_charge});
  table.add("/v1/admin/users/{user_id}/credits",
            {verb::post, "credit_user", auth_kind::admin, body_kind::json,
             idempotency_kind::required, credit_user});
  // Tenants and modules (API.md). Deactivate reads no body.
  table.add("/v1/tenants", {verb::post, "create_tenant", auth_kind::user, body_kind::json,
                            idempotency_kind::none, create_tenant});
  table.add("/v1/tenants/{tenant_id}", {verb::get, "get_tenant", auth_kind::user, body_kind::none,
                                        idempotency_kind::none, get_tenant});
  table.add("/v1/tenants/{tenant_id}/members",
            {verb::post, "add_tenant_member", auth_kind::user, body_kind::json,
             idempotency_kind::none, add_tenant_member});
  table.add("/v1/tenants/{tenant_id}/modules/activate",
            {verb::post, "activate_module", auth_kind::user, body_kind::json,
             idempotency_kind::none, activate_module});
  table.add("/v1/tenants/{tenant_id}/modules/deactivate",
            {verb::post, "deactivate_module", auth_kind::user, body_kind::none,
             idempotency_kind::none, deactivate_module});
  table.add("/v1/subdomains/{name}", {verb::get, "get_subdomain", auth_kind::user, body_kind::none,
                                      idempotency_kind::none, get_subdomain});
  return table;
}

} // namespace tally
