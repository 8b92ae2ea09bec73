#include "http/routes.hpp"

#include "http/auth_routes.hpp"
#include "http/cluster_routes.hpp"
#include "http/credits_routes.hpp"
#include "http/generation_routes.hpp"
#include "http/ops_routes.hpp"
#include "http/web_routes.hpp"
#include "http/tenant_routes.hpp"
#include "http/webhook_routes.hpp"

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
  // The example web page (examples/web/), public; 404 when it is off.
  table.add("/app", {verb::get, "redirect_to_web_page", auth_kind::none, body_kind::none,
                     idempotency_kind::none, redirect_to_web_page});
  table.add("/app/", {verb::get, "get_web_page", auth_kind::none, body_kind::none,
                      idempotency_kind::none, get_web_page});
  table.add("/app/{file}", {verb::get, "get_web_file", auth_kind::none, body_kind::none,
                            idempotency_kind::none, get_web_file});
  // Generations (API.md, Generations). The create takes its optional key
  // from the header or the body itself (generation_routes.cpp).
  table.add("/v1/models", {verb::get, "list_models", auth_kind::none, body_kind::none,
                           idempotency_kind::none, list_models});
  table.add("/v1/generations", {verb::post, "create_generation", auth_kind::user, body_kind::json,
                                idempotency_kind::none, create_generation});
  table.add("/v1/generations", {verb::get, "list_generations", auth_kind::user, body_kind::none,
                                idempotency_kind::none, list_generations});
  table.add("/v1/generations/{generation_id}",
            {verb::get, "get_generation", auth_kind::user, body_kind::none, idempotency_kind::none,
             get_generation});
  table.add("/v1/generations/{generation_id}/cancel",
            {verb::post, "cancel_generation", auth_kind::user, body_kind::none,
             idempotency_kind::none, cancel_generation});
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
  // Payment webhooks (API.md). The delivery reads its body raw (the
  // signature covers the exact bytes), so the pipeline parses none.
  table.add("/v1/webhooks/payments", {verb::post, "receive_payment_webhook", auth_kind::none,
                                      body_kind::none, idempotency_kind::none,
                                      receive_payment_webhook});
  table.add("/v1/admin/webhooks/payments/{event_id}",
            {verb::get, "get_payment_webhook", auth_kind::admin, body_kind::none,
             idempotency_kind::none, get_payment_webhook});
  // Cluster membership (API.md, Ops).
  table.add("/v1/admin/cluster", {verb::get, "get_cluster", auth_kind::admin, body_kind::none,
                                  idempotency_kind::none, get_cluster});
  return table;
}

} // namespace tally
