// http/cors: exact configured origins only; "*" and empty entries ignored.
#include <catch2/catch.hpp>

#include "http/cors.hpp"

using namespace tally;

TEST_CASE("only configured origins are allowed, matched exactly") {
  cors_policy policy({"https://app.example.com", "https://admin.example.com"});
  CHECK(policy.enabled());
  CHECK(policy.allows("https://app.example.com"));
  CHECK(policy.allows("https://admin.example.com"));
  for (auto origin : {"https://evil.example.com", "https://app.example.com.evil.net",
                      "http://app.example.com", "https://APP.example.com", "null", "",
                      "https://app.example.com/", "https://app.example.com:443"}) {
    INFO(origin);
    CHECK_FALSE(policy.allows(origin));
  }
}

TEST_CASE("no configured origins: CORS is off") {
  cors_policy policy({});
  CHECK_FALSE(policy.enabled());
  CHECK_FALSE(policy.allows("https://app.example.com"));
  CHECK_FALSE(policy.allows(""));
}

TEST_CASE("a wildcard or empty entry never opens the API to everyone") {
  cors_policy policy({"*", "", "https://ok.example"});
  CHECK(policy.allows("https://ok.example"));
  CHECK_FALSE(policy.allows("*"));
  CHECK_FALSE(policy.allows("https://evil.example"));
  CHECK_FALSE(cors_policy({"*"}).enabled());
}

TEST_CASE("the preflight header lists are the ones API.md names") {
  CHECK(cors_allow_headers ==
        "Content-Type, Authorization, X-Request-ID, X-Tenant-ID, Idempotency-Key");
  CHECK(cors_expose_headers == "X-Request-ID, Idempotent-Replayed, Retry-After");
  CHECK(cors_max_age_s == "600");
}
