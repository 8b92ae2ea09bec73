// http/router: exact segment matching, path parameters, 404 vs 405 + Allow,
// and the real route table.
#include <catch2/catch.hpp>

#include "http/router.hpp"
#include "http/routes.hpp"

using namespace tally;
using boost::beast::http::verb;

namespace {

void noop(const std::shared_ptr<request_context>&) {}

router sample() {
  router table;
  table.add("/healthz", {verb::get, "get_health", auth_kind::none, body_kind::none,
                         idempotency_kind::none, noop});
  table.add("/v1/items/{item_id}", {verb::get, "get_item", auth_kind::user, body_kind::none,
                                    idempotency_kind::none, noop});
  table.add("/v1/items/{item_id}", {verb::delete_, "delete_item", auth_kind::user,
                                    body_kind::none, idempotency_kind::none, noop});
  table.add("/v1/a/{first}/b/{second}", {verb::post, "post_pair", auth_kind::user,
                                         body_kind::json, idempotency_kind::none, noop});
  return table;
}

} // namespace

TEST_CASE("a literal path matches only itself") {
  auto table = sample();
  auto hit = table.match(verb::get, "/healthz");
  REQUIRE(hit.matched);
  REQUIRE(hit.target);
  CHECK(hit.target->name == "get_health");
  for (auto path : {"/healthz/", "/healthz/x", "/health", "/healthzz", "/", "", "healthz",
                    "//healthz"}) {
    INFO(path);
    CHECK_FALSE(table.match(verb::get, path).matched);
  }
}

TEST_CASE("path parameters capture one non-empty segment each") {
  auto table = sample();
  auto hit = table.match(verb::post, "/v1/a/one/b/two");
  REQUIRE(hit.target);
  CHECK(hit.param("first") == "one");
  CHECK(hit.param("second") == "two");
  CHECK(hit.param("third").empty());
  CHECK_FALSE(table.match(verb::post, "/v1/a//b/two").matched);
  CHECK_FALSE(table.match(verb::post, "/v1/a/one/b/").matched);
  CHECK_FALSE(table.match(verb::post, "/v1/a/one/b/two/three").matched);
  CHECK(table.match(verb::get, "/v1/items/42").param("item_id") == "42");
}

TEST_CASE("a known path with another method matches without a target (405)") {
  auto table = sample();
  auto hit = table.match(verb::put, "/v1/items/7");
  REQUIRE(hit.matched);
  CHECK_FALSE(hit.target);
  CHECK(hit.matched->methods == "GET, DELETE");
  CHECK(hit.matched->allow == "GET, HEAD, DELETE, OPTIONS");
  CHECK(table.match(verb::delete_, "/v1/items/7").target->name == "delete_item");
}

TEST_CASE("HEAD matches the GET endpoint of a path, and nothing where there is no GET") {
  auto table = sample();
  auto head = table.match(verb::head, "/v1/items/7");
  REQUIRE(head.target);
  CHECK(head.target->method == verb::get);
  auto post_only = table.match(verb::head, "/v1/a/1/b/2");
  REQUIRE(post_only.matched);
  CHECK_FALSE(post_only.target);
  CHECK(post_only.matched->allow == "POST, OPTIONS");
}

TEST_CASE("routes get dense indexes and their pattern as label") {
  auto table = sample();
  REQUIRE(table.routes().size() == 3);
  for (size_t i = 0; i < table.routes().size(); ++i) CHECK(table.routes()[i].index == i);
  CHECK(table.routes()[1].pattern == "/v1/items/{item_id}");
}

TEST_CASE("a duplicate method on one pattern is refused at start-up") {
  auto table = sample();
  CHECK_THROWS(table.add("/healthz", {verb::get, "again", auth_kind::none, body_kind::none,
                                      idempotency_kind::none, noop}));
}

TEST_CASE("the API table routes every endpoint of API.md Credits and Ops") {
  auto table = make_api_router();
  struct row {
    verb method;
    const char* path;
    const char* name;
    auth_kind auth;
    idempotency_kind idem;
  };
  const row rows[] = {
    {verb::get, "/healthz", "get_health", auth_kind::none, idempotency_kind::none},
    {verb::get, "/readyz", "get_readiness", auth_kind::none, idempotency_kind::none},
    {verb::get, "/metrics", "get_metrics", auth_kind::none, idempotency_kind::none},
    {verb::get, "/v1/me/balance", "get_balance", auth_kind::user, idempotency_kind::none},
    {verb::get, "/v1/me/ledger", "list_ledger", auth_kind::user, idempotency_kind::none},
    {verb::post, "/v1/me/charges", "create_charge", auth_kind::user, idempotency_kind::required},
    {verb::post, "/v1/admin/users/0b8e4b5e-8c1c-4a52-9f3e-000000000001/credits", "credit_user",
     auth_kind::admin, idempotency_kind::required},
    {verb::post, "/v1/auth/magic-link", "request_magic_link", auth_kind::none,
     idempotency_kind::none},
    {verb::post, "/v1/auth/magic-link/verify", "verify_magic_link", auth_kind::none,
     idempotency_kind::none},
    {verb::post, "/v1/auth/code", "request_code", auth_kind::none, idempotency_kind::none},
    {verb::post, "/v1/auth/code/verify", "verify_code", auth_kind::none, idempotency_kind::none},
    {verb::post, "/v1/auth/refresh", "refresh_session", auth_kind::none, idempotency_kind::none},
    {verb::get, "/v1/auth/me", "get_me", auth_kind::user, idempotency_kind::none},
    {verb::post, "/v1/auth/logout", "logout", auth_kind::user, idempotency_kind::none},
  };
  for (const auto& r : rows) {
    INFO(r.path);
    auto hit = table.match(r.method, r.path);
    REQUIRE(hit.target);
    CHECK(hit.target->name == r.name);
    CHECK(hit.target->auth == r.auth);
    CHECK(hit.target->idempotency == r.idem);
  }
  CHECK(table.match(verb::post, "/v1/admin/users/x/credits").param("user_id") == "x");
  CHECK_FALSE(table.match(verb::get, "/v1/me/balance/extra").matched);
  CHECK_FALSE(table.match(verb::get, "/v2/me/balance").matched);
}
