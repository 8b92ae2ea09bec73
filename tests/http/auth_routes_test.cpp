// http/auth_routes through the request pipeline and a fake_gateway: every
// /v1/auth/* endpoint's answer, validation (422 listing every bad field),
// empty tokens (401 INVALID_TOKEN without asking the actors), the auth error
// codes, 429 with Retry-After, WWW-Authenticate only on bearer endpoints,
// the request origin (request id, client IP, X-Forwarded-For), and callers
// taken from access tokens (no session -> 401).
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "handler_fixture.hpp"
#include "http/auth_routes.hpp"
#include "http/jwt_verifier.hpp"

using namespace tally;
using namespace tally::test;
using nlohmann::json;

namespace {

constexpr const char* granted_session_text = "9d3b7c1a-2e4f-4a6b-8c0d-1e2f3a4b5c6d";
constexpr const char* www_authenticate = R"(Bearer error="invalid_token")";

session_grant sample_grant() {
  session_grant grant;
  grant.session = *parse_uuid(granted_session_text);
  grant.refresh_token = "refresh-token-1";
  grant.user.id = *parse_uuid(user_text);
  grant.user.email = "alice@example.com";
  grant.user.created_at = 1'795'456'800'000'000;
  return grant;
}

/// The token pair's access token, verified with the fixture's secret.
access_claims verified_access_token(const fixture& f, const json& pair) {
  jwt_verifier verifier(f.config);
  auto claims = verifier.verify(pair["access_token"].get<std::string>());
  REQUIRE(claims);
  return *claims;
}

void check_token_pair(const fixture& f, const http_response& response) {
  INFO(response.body());
  REQUIRE(response.result() == http::status::ok);
  CHECK(header_of(response, "Content-Type") == "application/json");
  CHECK(header_of(response, "Cache-Control") == "no-store");
  auto body = json::parse(response.body());
  CHECK(body["refresh_token"] == "refresh-token-1");
  CHECK(body["token_type"] == "Bearer");
  CHECK(body["expires_in"] == 900);
  CHECK(body["user"] == json{{"id", user_text},
                             {"email", "alice@example.com"},
                             {"phone", nullptr},
                             {"created_at", "2026-11-23T18:00:00Z"}});
  auto claims = verified_access_token(f, body);
  CHECK(to_string(claims.user) == user_text);
  CHECK(claims.session_id == granted_session_text);
}

/// A 401 of a login/refresh endpoint: the token was in the body, so no
/// WWW-Authenticate challenge.
void body_token_401(const http_response& response, const std::string& code) {
  problem(response, 401, code);
  CHECK(response.find(http::field::www_authenticate) == response.end());
}

} // namespace

// Magic links ----------------------------------------------------------------

TEST_CASE("a magic-link request is 202 with the challenge's expiry; the email is normalised") {
  fixture f;
  f.gate.challenge_value = {900, {}};
  auto response = f.post_json("/v1/auth/magic-link", R"({"email": "  Alice@Example.COM "})",
                              {{"X-Request-ID", "req-ml-1"}}, "192.0.2.10");
  CHECK(response.result() == http::status::accepted);
  CHECK(header_of(response, "Content-Type") == "application/json");
  CHECK(header_of(response, "Cache-Control") == "no-store");
  CHECK(response.body() == R"({"status":"sent","expires_in":900})");
  REQUIRE(f.gate.magic_link_calls.size() == 1);
  CHECK(f.gate.magic_link_calls[0].first == "alice@example.com");
  CHECK(f.gate.magic_link_calls[0].origin.request_id == "req-ml-1");
  CHECK(f.gate.magic_link_calls[0].origin.client_ip == "192.0.2.10");

  // expires_in is the challenge's, not a constant.
  f.gate.challenge_value = {60, {}};
  CHECK(json::parse(f.post_json("/v1/auth/magic-link", R"({"email": "a@b.co"})").body())
          ["expires_in"] == 60);
}

TEST_CASE("debug_token appears only in dev mode and only when the challenge has one") {
  fixture dev([](http_config& c) { c.dev = true; });
  dev.gate.challenge_value = {900, "debug-secret"};
  auto body = json::parse(dev.post_json("/v1/auth/magic-link", R"({"email": "a@b.co"})").body());
  CHECK(body == json{{"status", "sent"}, {"expires_in", 900}, {"debug_token", "debug-secret"}});
  dev.gate.challenge_value = {900, {}};
  CHECK_FALSE(json::parse(dev.post_json("/v1/auth/magic-link", R"({"email": "a@b.co"})").body())
                .contains("debug_token"));

  fixture production;
  production.gate.challenge_value = {900, "debug-secret"};
  auto response = production.post_json("/v1/auth/magic-link", R"({"email": "a@b.co"})");
  CHECK(response.result() == http::status::accepted);
  CHECK(response.body().find("debug") == std::string::npos);
  CHECK(response.body().find("debug-secret") == std::string::npos);
}

TEST_CASE("a bad email is 422 naming the field; nothing reaches the gateway") {
  fixture f;
  for (std::string body : {std::string("{}"), std::string(R"({"email": null})"),
                           std::string(R"({"email": 5})"), std::string(R"({"email": ["a@b.co"]})"),
                           std::string(R"({"email": ""})"), std::string(R"({"email": "   "})"),
                           std::string(R"({"email": "not-an-email"})"),
                           std::string(R"({"email": "a@b"})"),
                           std::string(R"({"email": "a b@c.de"})"),
                           std::string(R"({"mail": "a@b.co"})")}) {
    INFO(body);
    auto problem_body = problem(f.post_json("/v1/auth/magic-link", body), 422, "VALIDATION_FAILED");
    CHECK(error_fields(problem_body) == std::set<std::string>{"email"});
  }
  CHECK(f.gate.call_count() == 0);
}

TEST_CASE("auth bodies follow the conventions: 415, 400, 422 for non-objects") {
  fixture f;
  auto no_type = f.send(make_request(verb::post, "/v1/auth/magic-link", R"({"email":"a@b.co"})"));
  problem(no_type, 415, "UNSUPPORTED_MEDIA_TYPE");
  problem(f.post_json("/v1/auth/code/verify", "{phone"), 400, "MALFORMED_JSON");
  CHECK(error_fields(problem(f.post_json("/v1/auth/refresh", "[]"), 422, "VALIDATION_FAILED")) ==
        std::set<std::string>{"body"});
  CHECK(f.gate.call_count() == 0);
}

TEST_CASE("rate limits are 429 with the failure's Retry-After, never below 1 s") {
  fixture f;
  f.gate.fail_with = failure{error_code::rate_limited, "Too many magic links for this email", 42};
  auto response = f.post_json("/v1/auth/magic-link", R"({"email": "a@b.co"})");
  problem(response, 429, "RATE_LIMITED");
  CHECK(header_of(response, "Retry-After") == "42");
  CHECK(response.find(http::field::www_authenticate) == response.end());
  // No value from the actor: the configured default (2 in the fixture).
  f.gate.fail_with = failure{error_code::rate_limited, "slow down", 0};
  CHECK(header_of(f.post_json("/v1/auth/code", R"({"phone": "+12345678"})"), "Retry-After") == "2");
  fixture zero([](http_config& c) { c.retry_after_s = 0; });
  zero.gate.fail_with = failure{error_code::rate_limited, "slow down", 0};
  CHECK(header_of(zero.post_json("/v1/auth/refresh", R"({"refresh_token": "x"})"),
                  "Retry-After") == "1");
}

TEST_CASE("the client IP is the peer unless X-Forwarded-For is trusted") {
  fixture f;
  f.post_json("/v1/auth/magic-link", R"({"email": "a@b.co"})", {{"X-Forwarded-For", "203.0.113.5"}},
              "198.51.100.1");
  REQUIRE(f.gate.magic_link_calls.size() == 1);
  CHECK(f.gate.magic_link_calls[0].origin.client_ip == "198.51.100.1");

  fixture trusted([](http_config& c) { c.trust_forwarded_for = true; });
  trusted.post_json("/v1/auth/magic-link", R"({"email": "a@b.co"})",
                    {{"X-Forwarded-For", "203.0.113.5, 10.0.0.2"}}, "198.51.100.1");
  trusted.post_json("/v1/auth/magic-link", R"({"email": "a@b.co"})", {}, "198.51.100.1");
  REQUIRE(trusted.gate.magic_link_calls.size() == 2);
  CHECK(trusted.gate.magic_link_calls[0].origin.client_ip == "203.0.113.5");
  CHECK(trusted.gate.magic_link_calls[1].origin.client_ip == "198.51.100.1");
}

TEST_CASE("verifying a magic link answers a token pair signed for the granted session") {
  fixture f;
  f.gate.grant_value = sample_grant();
  auto response = f.post_json("/v1/auth/magic-link/verify", R"({"token": "magic-token"})",
                              {{"X-Request-ID", "req-v"}}, "192.0.2.20");
  check_token_pair(f, response);
  REQUIRE(f.gate.verify_magic_link_calls.size() == 1);
  CHECK(f.gate.verify_magic_link_calls[0].first == "magic-token");
  CHECK(f.gate.verify_magic_link_calls[0].origin.request_id == "req-v");
  CHECK(f.gate.verify_magic_link_calls[0].origin.client_ip == "192.0.2.20");

  // The access token works on the caller's endpoints, naming the new session.
  auto access = json::parse(response.body())["access_token"].get<std::string>();
  CHECK(f.get("/v1/me/balance", {{"Authorization", "Bearer " + access}}).result() ==
        http::status::ok);
  REQUIRE(f.gate.balance_calls.size() == 1);
  CHECK(to_string(f.gate.balance_calls[0].session) == granted_session_text);
  CHECK(to_string(f.gate.balance_calls[0].user) == user_text);
}

TEST_CASE("magic-link tokens: missing or not a string is 422, empty is 401 INVALID_TOKEN") {
  fixture f;
  for (auto body : {"{}", R"({"token": null})", R"({"token": 12})", R"({"token": {}})"}) {
    INFO(body);
    CHECK(error_fields(problem(f.post_json("/v1/auth/magic-link/verify", body), 422,
                               "VALIDATION_FAILED")) == std::set<std::string>{"token"});
  }
  body_token_401(f.post_json("/v1/auth/magic-link/verify", R"({"token": ""})"), "INVALID_TOKEN");
  auto too_long = R"({"token": ")" + std::string(presented_token_chars_max + 1, 'x') + "\"}";
  body_token_401(f.post_json("/v1/auth/magic-link/verify", too_long), "INVALID_TOKEN");
  CHECK(f.gate.call_count() == 0);
}

TEST_CASE("the actors' verdicts on a magic link keep their codes") {
  for (auto [error, code] : {std::pair{error_code::invalid_token, "INVALID_TOKEN"},
                             std::pair{error_code::token_expired, "TOKEN_EXPIRED"}}) {
    INFO(code);
    fixture f;
    f.gate.fail_with = failure{error, "no", 0};
    body_token_401(f.post_json("/v1/auth/magic-link/verify", R"({"token": "t"})"), code);
  }
}

// Phone codes ----------------------------------------------------------------

TEST_CASE("a code request is 202; debug_code only in dev mode") {
  fixture dev([](http_config& c) { c.dev = true; });
  dev.gate.challenge_value = {300, "042917"};
  auto response = dev.post_json("/v1/auth/code", R"({"phone": "+491701234567"})");
  CHECK(response.result() == http::status::accepted);
  CHECK(json::parse(response.body()) ==
        json{{"status", "sent"}, {"expires_in", 300}, {"debug_code", "042917"}});
  REQUIRE(dev.gate.code_calls.size() == 1);
  CHECK(dev.gate.code_calls[0].first == "+491701234567");

  fixture production;
  production.gate.challenge_value = {300, "042917"};
  CHECK(production.post_json("/v1/auth/code", R"({"phone": "+491701234567"})").body() ==
        R"({"status":"sent","expires_in":300})");
}

TEST_CASE("a phone that is not E.164 is 422") {
  fixture f;
  for (auto body : {"{}", R"({"phone": null})", R"({"phone": 491701234567})",
                    R"({"phone": "491701234567"})", R"({"phone": "+1234567"})",
                    R"({"phone": "+1234567890123456"})", R"({"phone": "+0491701234"})",
                    R"({"phone": "+49 170 1234567"})", R"({"phone": ""})"}) {
    INFO(body);
    CHECK(error_fields(problem(f.post_json("/v1/auth/code", body), 422, "VALIDATION_FAILED")) ==
          std::set<std::string>{"phone"});
  }
  CHECK(f.gate.call_count() == 0);
}

TEST_CASE("code verify: every bad field is listed") {
  fixture f;
  CHECK(error_fields(problem(f.post_json("/v1/auth/code/verify", "{}"), 422,
                             "VALIDATION_FAILED")) == std::set<std::string>{"phone", "code"});
  CHECK(error_fields(problem(f.post_json("/v1/auth/code/verify",
                                         R"({"phone": "12", "code": 123456})"),
                             422, "VALIDATION_FAILED")) == std::set<std::string>{"phone", "code"});
  for (auto code : {R"("12345")", R"("1234567")", R"("12345a")", R"(" 12345")", "123456",
                    "null", R"("")"}) {
    INFO(code);
    auto body = std::string(R"({"phone": "+12345678", "code": )") + code + "}";
    CHECK(error_fields(problem(f.post_json("/v1/auth/code/verify", body), 422,
                               "VALIDATION_FAILED")) == std::set<std::string>{"code"});
  }
  CHECK(f.gate.call_count() == 0);
}

TEST_CASE("code verify answers a token pair; the actors' verdicts keep their codes") {
  fixture f;
  f.gate.grant_value = sample_grant();
  check_token_pair(f, f.post_json("/v1/auth/code/verify",
                                  R"({"phone": "+12345678", "code": "012345"})"));
  REQUIRE(f.gate.verify_code_calls.size() == 1);
  CHECK(f.gate.verify_code_calls[0].first == "+12345678");
  CHECK(f.gate.verify_code_calls[0].second == "012345");

  for (auto [error, code] : {std::pair{error_code::invalid_code, "INVALID_CODE"},
                             std::pair{error_code::code_locked, "CODE_LOCKED"},
                             std::pair{error_code::code_expired, "CODE_EXPIRED"}}) {
    INFO(code);
    f.gate.fail_with = failure{error, "no", 0};
    body_token_401(f.post_json("/v1/auth/code/verify",
                               R"({"phone": "+12345678", "code": "000000"})"),
                   code);
  }
  f.gate.fail_with = failure{error_code::rate_limited, "back off", 4};
  auto backoff = f.post_json("/v1/auth/code/verify", R"({"phone": "+12345678", "code": "000000"})");
  problem(backoff, 429, "RATE_LIMITED");
  CHECK(header_of(backoff, "Retry-After") == "4");
}

// Refresh ----------------------------------------------------------------------

TEST_CASE("refresh answers a new token pair; bad refresh tokens are 401 or 422") {
  fixture f;
  f.gate.grant_value = sample_grant();
  check_token_pair(f, f.post_json("/v1/auth/refresh", R"({"refresh_token": "rt-0"})",
                                  {{"X-Request-ID", "req-r"}}));
  REQUIRE(f.gate.refresh_calls.size() == 1);
  CHECK(f.gate.refresh_calls[0].first == "rt-0");
  CHECK(f.gate.refresh_calls[0].origin.request_id == "req-r");

  for (auto body : {"{}", R"({"refresh_token": null})", R"({"refresh_token": 1})",
                    R"({"token": "rt-0"})"}) {
    INFO(body);
    CHECK(error_fields(problem(f.post_json("/v1/auth/refresh", body), 422,
                               "VALIDATION_FAILED")) == std::set<std::string>{"refresh_token"});
  }
  body_token_401(f.post_json("/v1/auth/refresh", R"({"refresh_token": ""})"), "INVALID_TOKEN");
  CHECK(f.gate.refresh_calls.size() == 1);

  for (auto [error, code] : {std::pair{error_code::invalid_token, "INVALID_TOKEN"},
                             std::pair{error_code::refresh_token_reused, "REFRESH_TOKEN_REUSED"},
                             std::pair{error_code::session_revoked, "SESSION_REVOKED"}}) {
    INFO(code);
    f.gate.fail_with = failure{error, "no", 0};
    body_token_401(f.post_json("/v1/auth/refresh", R"({"refresh_token": "rt-1"})"), code);
  }
}

// Me and logout ------------------------------------------------------------------

TEST_CASE("GET /v1/auth/me shows the caller's user and tenants") {
  fixture f;
  f.gate.me_value.user = sample_grant().user;
  f.gate.me_value.tenants.push_back({*parse_uuid(other_user_text), "Acme", "owner"});
  auto response = f.get_me("/v1/auth/me");
  CHECK(response.result() == http::status::ok);
  CHECK(json::parse(response.body()) ==
        json{{"user", json::parse(R"({"id":")" + std::string(user_text) +
                                  R"(","email":"alice@example.com","phone":null,)"
                                  R"("created_at":"2026-11-23T18:00:00Z"})")},
             {"tenants", json::array({json{{"id", other_user_text}, {"name", "Acme"},
                                           {"role", "owner"}}})}});
  REQUIRE(f.gate.me_calls.size() == 1);
  CHECK(f.gate.me_calls[0].user == f.user);
  CHECK(f.gate.me_calls[0].session == f.session);
}

TEST_CASE("logout is 204 without a body; an empty POST needs no Content-Type") {
  fixture f;
  auto response = f.send(make_request(verb::post, "/v1/auth/logout", {},
                                      {{"Authorization", f.bearer()}, {"X-Request-ID", "req-lo"}}),
                         "192.0.2.30");
  CHECK(response.result() == http::status::no_content);
  CHECK(response.body().empty());
  CHECK(response.find(http::field::content_type) == response.end());
  REQUIRE(f.gate.logout_calls.size() == 1);
  CHECK(f.gate.logout_calls[0].first.user == f.user);
  CHECK(f.gate.logout_calls[0].first.session == f.session);
  CHECK(f.gate.logout_calls[0].second.request_id == "req-lo");
  CHECK(f.gate.logout_calls[0].second.client_ip == "192.0.2.30");
  // A body, even one that is not JSON, is ignored.
  CHECK(f.send(make_request(verb::post, "/v1/auth/logout", "whatever",
                            {{"Authorization", f.bearer()}, {"Content-Type", "text/plain"}}))
          .result() == http::status::no_content);
}

TEST_CASE("a revoked session is 401 SESSION_REVOKED with a challenge on bearer endpoints") {
  fixture f;
  f.gate.fail_with = failure{error_code::session_revoked, "The session is revoked", 0};
  for (auto response : {f.get_me("/v1/me/balance"), f.get_me("/v1/me/ledger"),
                        f.charge(R"({"amount": 1})"), f.get_me("/v1/auth/me"),
                        f.send(make_request(verb::post, "/v1/auth/logout", {},
                                            {{"Authorization", f.bearer()}}))}) {
    problem(response, 401, "SESSION_REVOKED");
    CHECK(header_of(response, "WWW-Authenticate") == www_authenticate);
  }
  f.gate.fail_with = failure{error_code::user_not_found, "gone", 0};
  problem(f.get_me("/v1/auth/me"), 401, "UNAUTHENTICATED");
}

TEST_CASE("an access token without a UUID session is 401 UNAUTHENTICATED everywhere") {
  fixture f;
  auto now = unix_now_s();
  auto no_sid = valid_claims(user_text, now);
  no_sid.erase("sid");
  auto bad_sid = valid_claims(user_text, now);
  bad_sid["sid"] = "session-1";
  auto number_sid = valid_claims(user_text, now);
  number_sid["sid"] = 7;
  for (const auto& claims : {no_sid, bad_sid, number_sid}) {
    INFO(claims.dump());
    auto bearer = "Bearer " + make_token(hs256_header(), claims, test_secret);
    for (auto response :
         {f.get("/v1/me/balance", {{"Authorization", bearer}}),
          f.get("/v1/auth/me", {{"Authorization", bearer}}),
          f.send(make_request(verb::post, "/v1/auth/logout", {}, {{"Authorization", bearer}})),
          f.send(make_request(verb::post, "/v1/me/charges", R"({"amount": 1})",
                              {{"Authorization", bearer},
                               {"Content-Type", "application/json"},
                               {"Idempotency-Key", "k"}}))}) {
      problem(response, 401, "UNAUTHENTICATED");
      CHECK(header_of(response, "WWW-Authenticate") == www_authenticate);
    }
  }
  CHECK(f.gate.call_count() == 0);
}

TEST_CASE("auth endpoints are routed with the right auth kind and 405 elsewhere") {
  fixture f;
  auto me = f.send(make_request(verb::post, "/v1/auth/me", "{}"));
  problem(me, 405, "METHOD_NOT_ALLOWED");
  CHECK(header_of(me, "Allow") == "GET, HEAD, OPTIONS");
  problem(f.get("/v1/auth/magic-link"), 405, "METHOD_NOT_ALLOWED");
  problem(f.get("/v1/auth/logout"), 405, "METHOD_NOT_ALLOWED");
  // Public endpoints ignore a bad Authorization header; bearer ones do not.
  CHECK(f.post_json("/v1/auth/magic-link", R"({"email": "a@b.co"})",
                    {{"Authorization", "Bearer garbage"}})
          .result() == http::status::accepted);
  problem(f.get("/v1/auth/me", {{"Authorization", "Bearer garbage"}}), 401, "UNAUTHENTICATED");
  problem(f.send(make_request(verb::post, "/v1/auth/logout")), 401, "UNAUTHENTICATED");
}

TEST_CASE("a dropped login reply is 503 instead of a hang") {
  fixture f;
  f.gate.hold = true;
  int calls = 0;
  http_response got;
  f.handler->handle(make_request(verb::post, "/v1/auth/magic-link/verify", R"({"token": "t"})",
                                 {{"Content-Type", "application/json"}}),
                    [&](http_response r) {
                      ++calls;
                      got = std::move(r);
                    });
  CHECK(calls == 0);
  f.gate.drop_held();
  CHECK(calls == 1);
  problem(got, 503, "STORE_UNAVAILABLE");
}
