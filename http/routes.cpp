#include "http/routes.hpp"

#include "http/auth_routes.hpp"
#include "http/credits_routes.hpp"
#include "http/ops_routes.hpp"
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
  // Payment webhooks (API.md). The delivery reads its body raw (the
  // signature covers the exact bytes), so the pipeline parses none.
  table.add("/v1/webhooks/payments", {verb::post, "receive_payment_webhook", auth_kind::none,
                                      body_kind::none, idempotency_kind::none,
                                      receive_payment_webhook});
  table.add("/v1/admin/webhooks/payments/{event_id}",
            {verb::get, "get_payment_webhook", auth_kind::admin, body_kind::none,
             idempotency_kind::none, get_payment_webhook});
  return table;
}

} // namespace tally
