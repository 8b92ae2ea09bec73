// tests/actors/login_decisions_test.cpp: the pure login and session
// decisions (actors/login_decisions.cpp, actors/session_decisions.cpp).
#include <catch2/catch.hpp>

#include <chrono>
#include <optional>

#include "actors/login_decisions.hpp"
#include "actors/session_decisions.hpp"
#include "protocols/secrets.hpp"

using namespace tally;
using namespace std::chrono_literals;

namespace {

constexpr int64_t ms_us = 1'000;
constexpr int64_t second_us = 1'000'000;
constexpr timestamp_us t0 = 1'700'000'000LL * second_us;

login_code_row live_code(const auth_config& auth, const std::string& code) {
  login_code_row row;
  row.code_hash = code_hash(auth.code_pepper, code);
  row.created_at = t0;
  row.expires_at = t0 + 300 * second_us;
  return row;
}

} // namespace

TEST_CASE("a magic link is unknown, used, expired or valid") {
  magic_link_row link;
  link.expires_at = t0 + 900 * second_us;
  CHECK(decide_link(nullptr, t0) == link_verdict::unknown);
  CHECK(decide_link(&link, t0) == link_verdict::valid);
  CHECK(decide_link(&link, t0 + 900 * second_us - 1) == link_verdict::valid);
  CHECK(decide_link(&link, t0 + 900 * second_us) == link_verdict::expired);
  link.used_at = t0;
  CHECK(decide_link(&link, t0) == link_verdict::used);
}

TEST_CASE("code back-off doubles from the base: 500 ms x 2^(failures - 1)") {
  auth_config auth;
  CHECK(code_backoff_us(0, auth) == 0);
  CHECK(code_backoff_us(1, auth) == 500 * ms_us);
  CHECK(code_backoff_us(2, auth) == 1000 * ms_us);
  CHECK(code_backoff_us(3, auth) == 2000 * ms_us);
  CHECK(code_backoff_us(4, auth) == 4000 * ms_us);
  CHECK(code_backoff_us(1000, auth) > 0);  // no undefined shift
}

TEST_CASE("a code's timeline: back-off after each failure, burnt by the 5th") {
  auth_config auth;
  auth.code_pepper = "pepper";
  std::optional<login_code_row> code = live_code(auth, "123456");
  const auto wrong = code_hash(auth.code_pepper, "000000");
  auto now = t0;
  for (int failure = 1; failure <= 4; ++failure) {
    INFO("failure " << failure);
    auto attempt = decide_code(code, wrong, now, auth);
    REQUIRE(attempt.verdict == code_verdict::wrong);
    REQUIRE(attempt.changed);
    CHECK(attempt.after.failures == failure);
    auto backoff = code_backoff_us(failure, auth);
    CHECK(attempt.after.next_attempt_at == now + backoff);
    code = attempt.after;
    // One microsecond early: refused, with the exact wait, nothing counted.
    auto early = decide_code(code, wrong, now + backoff - 1, auth);
    CHECK(early.verdict == code_verdict::too_early);
    CHECK(early.retry_after_us == 1);
    CHECK_FALSE(early.changed);
    now += backoff;
  }
  auto fifth = decide_code(code, wrong, now, auth);
  CHECK(fifth.verdict == code_verdict::wrong_locked);
  CHECK(fifth.after.locked);
  CHECK(fifth.after.failures == 5);
  code = fifth.after;
  // Locked: even the right code is refused until a new one is requested.
  CHECK(decide_code(code, code_hash(auth.code_pepper, "123456"), now + 60 * second_us, auth).verdict
        == code_verdict::locked);
}

TEST_CASE("the right code logs in once: it is burnt") {
  auth_config auth;
  auth.code_pepper = "pepper";
  std::optional<login_code_row> code = live_code(auth, "123456");
  auto right = code_hash(auth.code_pepper, "123456");
  auto attempt = decide_code(code, right, t0, auth);
  REQUIRE(attempt.verdict == code_verdict::right);
  CHECK(attempt.after.code_hash.empty());
  code = attempt.after;
  CHECK(decide_code(code, right, t0, auth).verdict == code_verdict::no_code);
}

TEST_CASE("no code, an expired code, and a code hashed with another pepper") {
  auth_config auth;
  auth.code_pepper = "pepper";
  CHECK(decide_code(std::nullopt, "x", t0, auth).verdict == code_verdict::no_code);
  std::optional<login_code_row> code = live_code(auth, "123456");
  CHECK(decide_code(code, code_hash(auth.code_pepper, "123456"), t0 + 300 * second_us, auth).verdict
        == code_verdict::expired);
  CHECK(decide_code(code, code_hash("other pepper", "123456"), t0, auth).verdict
        == code_verdict::wrong);
  // The stored hash is keyed: it is not the code's plain SHA-256.
  CHECK(code->code_hash != sha256_hex("123456"));
}

TEST_CASE("a session is usable while it is the user's, not revoked and not expired") {
  session_row session;
  session.user_id = random_uuid();
  session.expires_at = t0 + second_us;
  CHECK(session_usable(session, session.user_id, t0));
  CHECK_FALSE(session_usable(session, random_uuid(), t0));
  CHECK_FALSE(session_usable(session, session.user_id, t0 + second_us));
  session.revoked_at = t0;
  CHECK_FALSE(session_usable(session, session.user_id, t0));
}

TEST_CASE("a presented refresh token is current, in grace, reused or unknown") {
  session_row session;
  session.refresh_hash = sha256_hex("new");
  session.previous_refresh_hash = sha256_hex("old");
  session.rotated_at = t0;
  const std::chrono::microseconds grace = 10s;
  CHECK(classify_refresh(session, sha256_hex("new"), t0 + 3600 * second_us, grace)
        == refresh_verdict::rotate);
  CHECK(classify_refresh(session, sha256_hex("old"), t0, grace) == refresh_verdict::grace);
  CHECK(classify_refresh(session, sha256_hex("old"), t0 + 10 * second_us, grace)
        == refresh_verdict::grace);
  CHECK(classify_refresh(session, sha256_hex("old"), t0 + 10 * second_us + 1, grace)
        == refresh_verdict::reused);
  CHECK(classify_refresh(session, sha256_hex("older"), t0, grace) == refresh_verdict::unknown);
  // Never rotated: an empty previous hash matches nothing.
  session.previous_refresh_hash.clear();
  CHECK(classify_refresh(session, std::string{}, t0, grace) == refresh_verdict::unknown);
}
