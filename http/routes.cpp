#include "http/routes.hpp"

#include "http/credits_routes.hpp"
#include "http/ops_routes.hpp"

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
  return table;
}

} // namespace tally
