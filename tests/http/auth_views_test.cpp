// http/auth_views: token pairs, /v1/auth/me and challenges render exactly
// the fields API.md lists, null for a missing email/phone, RFC 3339 times.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "http/auth_views.hpp"

using namespace tally;
using nlohmann::json;

namespace {

constexpr const char* user_text = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b";
constexpr const char* session_text = "5e55a0b1-7c2d-4e3f-9a8b-1c2d3e4f5a6b";
constexpr const char* tenant_text = "0b8e4b5e-8c1c-4a52-9f3e-00000000000a";
/// 2026-11-23T18:00:00Z
constexpr timestamp_us created_at_us = 1'795'456'800'000'000;

user_view email_user() {
  user_view user;
  user.id = *parse_uuid(user_text);
  user.email = "alice@example.com";
  user.created_at = created_at_us;
  return user;
}

} // namespace

TEST_CASE("a token pair has exactly the API.md fields in a fixed order") {
  session_grant grant;
  grant.session = *parse_uuid(session_text);
  grant.refresh_token = "refresh-\"token\"";
  grant.user = email_user();
  auto text = render_token_pair(grant, "a.b.c", 900);
  CHECK(text == std::string(R"({"access_token":"a.b.c","refresh_token":"refresh-\"token\"",)") +
                  R"("token_type":"Bearer","expires_in":900,"user":{"id":")" + user_text +
                  R"(","email":"alice@example.com","phone":null,"created_at":"2026-11-23T18:00:00Z"}})");
  auto body = json::parse(text);
  CHECK(body.size() == 5);
  CHECK(body["refresh_token"] == "refresh-\"token\"");
}

TEST_CASE("the user view shows a phone user with a null email, fractions of seconds kept") {
  user_view user;
  user.id = *parse_uuid(user_text);
  user.phone = "+491701234567";
  user.created_at = created_at_us + 250'000;
  std::string out;
  json_writer writer(out);
  write_user_view(writer, user);
  auto body = json::parse(out);
  CHECK(body == json{{"id", user_text},
                     {"email", nullptr},
                     {"phone", "+491701234567"},
                     {"created_at", "2026-11-23T18:00:00.250Z"}});
}

TEST_CASE("/v1/auth/me lists the user and the tenants") {
  me_view me;
  me.user = email_user();
  CHECK(json::parse(render_me(me))["tenants"] == json::array());
  me.tenants.push_back({*parse_uuid(tenant_text), "Acme \"Inc\"", "owner"});
  me.tenants.push_back({*parse_uuid(user_text), "Other", "member"});
  auto body = json::parse(render_me(me));
  CHECK(body.size() == 2);
  CHECK(body["user"]["email"] == "alice@example.com");
  REQUIRE(body["tenants"].size() == 2);
  CHECK(body["tenants"][0] == json{{"id", tenant_text}, {"name", "Acme \"Inc\""}, {"role", "owner"}});
  CHECK(body["tenants"][1]["role"] == "member");
}

TEST_CASE("a challenge shows its debug secret only when it has one") {
  CHECK(render_challenge({900, {}}, "debug_token") == R"({"status":"sent","expires_in":900})");
  CHECK(render_challenge({300, "123456"}, "debug_code") ==
        R"({"status":"sent","expires_in":300,"debug_code":"123456"})");
}
