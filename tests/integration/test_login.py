"""API.md "Auth", logging in: magic links and phone codes in dev mode
(debug_token / debug_code), the first login creating exactly one user even
under 20 concurrent first logins, single-use links, replaced codes, the
code back-off and lock, expiry, /v1/auth/me, and every bad input answered
with its API.md error and no state change."""

import collections
import time
import unittest
import uuid

import harness
from harness import (AuthTestCase, request_code, request_magic_link, run_concurrently, sql_text,
                     unique_email, unique_phone, verify_code, verify_magic_link)

concurrent_first_logins = 20


class LoginTest(AuthTestCase):
    """Default TTLs; limits raised so only the tests that mean to hit a limit do."""

    service_env = {
        "TALLY_DEV": "1",
        "TALLY_RATE_MAGIC_LINK_PER_EMAIL": "100",
        "TALLY_RATE_MAGIC_LINK_PER_IP": "1000",
        "TALLY_RATE_CODE_PER_PHONE": "100",
        # Short back-off: tests here make one wrong attempt at most.
        "TALLY_CODE_BACKOFF_MS": "100",
    }

    def users_with_email(self, email):
        return self.service.count("users WHERE email = %s" % sql_text(email))

    # Magic links ---------------------------------------------------------------

    def test_magic_link_login_and_me(self):
        email = unique_email("ml")
        response = request_magic_link(self.client, email)
        self.assertEqual(response.status, 202, response)
        body = response.json()
        self.assertEqual(set(body), {"status", "expires_in", "debug_token"}, response)
        self.assertEqual(body["status"], "sent")
        self.assertEqual(body["expires_in"], 900)
        self.assertEqual(response.header("Cache-Control"), "no-store")
        pair = self.assertTokenPair(verify_magic_link(self.client, body["debug_token"]), email=email)
        self.assertIsNone(pair["user"]["phone"])
        self.assertEqual(pair["user"]["email"], email)

        access = pair["access_token"]
        me = self.client.get("/v1/auth/me", token=access)
        self.assertEqual(me.status, 200, me)
        self.assertEqual(me.json(), {"user": pair["user"], "tenants": []})
        self.assertEqual(harness.balance(self.client, access), {"available": 0, "reserved": 0})
        self.assertEqual(self.users_with_email(email), 1)

    def test_email_is_trimmed_and_lower_cased(self):
        local = "MiXed-" + uuid.uuid4().hex[:8]
        shouted = "  %s@Example.TEST \t" % local
        first = self.login_email(shouted)
        normalised = "%s@example.test" % local.lower()
        self.assertEqual(first["user"]["email"], normalised)
        second = self.login_email(normalised)
        self.assertEqual(second["user"]["id"], first["user"]["id"])
        self.assertNotEqual(harness.jwt_claims(second["access_token"])["sid"],
                            harness.jwt_claims(first["access_token"])["sid"])
        self.assertEqual(self.users_with_email(normalised), 1)

    def test_a_magic_link_is_single_use(self):
        email = unique_email("once")
        token = self.magic_token(email)
        first = self.assertTokenPair(verify_magic_link(self.client, token), email=email)
        self.assertAuthError(verify_magic_link(self.client, token), "INVALID_TOKEN")
        # An older unused link of the same email still works, once.
        second_token = self.magic_token(email)
        third_token = self.magic_token(email)
        self.assertEqual(self.assertTokenPair(verify_magic_link(self.client, second_token))["user"]["id"],
                         first["user"]["id"])
        self.assertTokenPair(verify_magic_link(self.client, third_token))
        self.assertAuthError(verify_magic_link(self.client, second_token), "INVALID_TOKEN")

    def test_unknown_and_malformed_magic_links_are_invalid(self):
        real = self.magic_token(unique_email("forge"))
        tampered = real[:-2] + ("AA" if real[-2:] != "AA" else "BB")
        for name, token in (("empty", ""), ("garbage", "not-a-token"), ("tampered", tampered),
                            ("padded", real + "="), ("truncated", real[:-1]),
                            ("too long", real * 20), ("unicode", "t\u00f6ken")):
            with self.subTest(token=name):
                self.assertAuthError(verify_magic_link(self.client, token), "INVALID_TOKEN")
        # The real one was not burnt by the attempts around it.
        self.assertTokenPair(verify_magic_link(self.client, real))

    def test_concurrent_first_logins_for_one_email_create_exactly_one_user(self):
        email = unique_email("race")
        tokens = [self.magic_token(email) for _ in range(concurrent_first_logins)]
        self.assertEqual(len(set(tokens)), concurrent_first_logins)
        self.assertEqual(self.users_with_email(email), 0)
        responses = run_concurrently([lambda c, t=t: verify_magic_link(c, t) for t in tokens],
                                     self.service.port)
        statuses = collections.Counter(getattr(r, "status", repr(r)) for r in responses)
        self.assertEqual(statuses, {200: concurrent_first_logins}, statuses)
        pairs = [self.assertTokenPair(r, email=email) for r in responses]
        self.assertEqual(len({p["user"]["id"] for p in pairs}), 1)
        self.assertEqual(len({harness.jwt_claims(p["access_token"])["sid"] for p in pairs}),
                         concurrent_first_logins)
        self.assertEqual(len({p["refresh_token"] for p in pairs}), concurrent_first_logins)
        self.assertEqual(self.users_with_email(email), 1)
        user_id = pairs[0]["user"]["id"]
        self.assertEqual(self.service.count("identities WHERE kind = 'email' AND value = %s"
                                            % sql_text(email)), 1)
        self.assertEqual(self.service.count("sessions WHERE user_id = %s" % sql_text(user_id)),
                         concurrent_first_logins)
        # Every session works.
        for pair in pairs[:5]:
            self.assertEqual(harness.balance(self.client, pair["access_token"])["available"], 0)

    # Phone codes ---------------------------------------------------------------------

    def test_code_login(self):
        phone = unique_phone()
        response = request_code(self.client, phone)
        self.assertEqual(response.status, 202, response)
        body = response.json()
        self.assertEqual(set(body), {"status", "expires_in", "debug_code"}, response)
        self.assertEqual(body["status"], "sent")
        self.assertEqual(body["expires_in"], 300)
        self.assertRegex(body["debug_code"], r"^[0-9]{6}$")
        pair = self.assertTokenPair(verify_code(self.client, phone, body["debug_code"]), phone=phone)
        self.assertIsNone(pair["user"]["email"])
        me = self.client.get("/v1/auth/me", token=pair["access_token"])
        self.assertEqual(me.json()["user"]["phone"], phone)
        # The code is used up.
        self.assertProblem(verify_code(self.client, phone, body["debug_code"]), 401,
                           codes={"INVALID_CODE", "CODE_EXPIRED", "CODE_LOCKED"})
        # A second login is the same user, exactly one per phone.
        again = self.login_phone(phone)
        self.assertEqual(again["user"]["id"], pair["user"]["id"])
        self.assertEqual(self.service.count("users WHERE phone = %s" % sql_text(phone)), 1)

    def test_a_new_code_replaces_the_previous_one(self):
        phone = unique_phone()
        old = self.code_for(phone)
        new = self.code_for(phone)
        if old == new:
            self.skipTest("the two random codes happen to be equal")
        self.assertAuthError(verify_code(self.client, phone, old), "INVALID_CODE")
        time.sleep(0.15)  # the back-off after one failure (TALLY_CODE_BACKOFF_MS=100)
        self.assertTokenPair(verify_code(self.client, phone, new), phone=phone)

    def test_verifying_without_a_code_requested_is_invalid(self):
        self.assertAuthError(verify_code(self.client, unique_phone(), "123456"), "INVALID_CODE")

    # Bad input ---------------------------------------------------------------------------

    def state(self):
        """Rows a login request could add."""
        return (self.service.count("outbox"), self.service.count("users"),
                self.service.count("magic_links"), self.service.count("login_codes"),
                self.service.count("sessions"))

    def test_bad_input_is_refused_and_changes_nothing(self):
        phone = unique_phone()
        code = self.code_for(phone)
        before = self.state()
        cases = [
            ("magic-link no email", "/v1/auth/magic-link", {}, ["email"]),
            ("magic-link email null", "/v1/auth/magic-link", {"email": None}, ["email"]),
            ("magic-link email number", "/v1/auth/magic-link", {"email": 5}, ["email"]),
            ("magic-link email list", "/v1/auth/magic-link", {"email": ["a@b.co"]}, ["email"]),
            ("magic-link email empty", "/v1/auth/magic-link", {"email": ""}, ["email"]),
            ("magic-link no @", "/v1/auth/magic-link", {"email": "alice.example.com"}, ["email"]),
            ("magic-link two @", "/v1/auth/magic-link", {"email": "a@b@example.com"}, ["email"]),
            ("magic-link no dot", "/v1/auth/magic-link", {"email": "alice@localhost"}, ["email"]),
            ("magic-link space", "/v1/auth/magic-link", {"email": "al ice@example.com"}, ["email"]),
            ("magic-link control", "/v1/auth/magic-link", {"email": "al\u0001ice@example.com"},
             ["email"]),
            ("magic-link long local", "/v1/auth/magic-link", {"email": "a" * 65 + "@example.com"},
             ["email"]),
            ("magic-link too long", "/v1/auth/magic-link",
             {"email": "a@" + ("b" * 62 + ".") * 4 + "com"}, ["email"]),
            ("magic-link bad domain", "/v1/auth/magic-link", {"email": "alice@exa_mple.com"},
             ["email"]),
            ("verify no token", "/v1/auth/magic-link/verify", {}, ["token"]),
            ("verify token number", "/v1/auth/magic-link/verify", {"token": 1}, ["token"]),
            ("verify token null", "/v1/auth/magic-link/verify", {"token": None}, ["token"]),
            ("code no phone", "/v1/auth/code", {}, ["phone"]),
            ("code phone number", "/v1/auth/code", {"phone": 4917012345678}, ["phone"]),
            ("code no plus", "/v1/auth/code", {"phone": "4917012345678"}, ["phone"]),
            ("code too short", "/v1/auth/code", {"phone": "+1234567"}, ["phone"]),
            ("code too long", "/v1/auth/code", {"phone": "+1234567890123456"}, ["phone"]),
            ("code leading zero", "/v1/auth/code", {"phone": "+0123456789"}, ["phone"]),
            ("code spaces", "/v1/auth/code", {"phone": "+49 170 1234567"}, ["phone"]),
            ("code verify empty", "/v1/auth/code/verify", {}, ["phone", "code"]),
            ("code verify both bad", "/v1/auth/code/verify", {"phone": "12", "code": 123456},
             ["phone", "code"]),
            ("code verify code number", "/v1/auth/code/verify", {"phone": phone, "code": int(code)},
             ["code"]),
            ("code verify 5 digits", "/v1/auth/code/verify", {"phone": phone, "code": code[:5]},
             ["code"]),
            ("code verify 7 digits", "/v1/auth/code/verify", {"phone": phone, "code": code + "0"},
             ["code"]),
            ("code verify letters", "/v1/auth/code/verify", {"phone": phone, "code": "12345a"},
             ["code"]),
            ("refresh missing", "/v1/auth/refresh", {}, ["refresh_token"]),
            ("refresh number", "/v1/auth/refresh", {"refresh_token": 5}, ["refresh_token"]),
        ]
        for name, path, body, fields in cases:
            with self.subTest(case=name):
                self.assertValidationFields(self.client.post(path, json_body=body), fields)
        for name, path, raw, content_type, status, code_name in (
                ("no content type", "/v1/auth/magic-link", b'{"email": "a@b.co"}', None, 415,
                 "UNSUPPORTED_MEDIA_TYPE"),
                ("text/plain", "/v1/auth/code", b'{"phone": "+12345678"}', "text/plain", 415,
                 "UNSUPPORTED_MEDIA_TYPE"),
                ("malformed", "/v1/auth/code/verify", b'{"phone": ', "application/json", 400,
                 "MALFORMED_JSON"),
                ("not an object", "/v1/auth/refresh", b'["token"]', "application/json", 422,
                 "VALIDATION_FAILED")):
            with self.subTest(case=name):
                headers = {"Content-Type": content_type} if content_type else {}
                self.assertProblem(self.client.request("POST", path, body=raw, headers=headers),
                                   status, code_name)
        for name, path, body in (("empty magic token", "/v1/auth/magic-link/verify", {"token": ""}),
                                 ("empty refresh token", "/v1/auth/refresh", {"refresh_token": ""})):
            with self.subTest(case=name):
                response = self.client.post(path, json_body=body)
                self.assertAuthError(response, "INVALID_TOKEN")
        self.assertEqual(self.state(), before)
        # None of the refused attempts counted as a failure of the code.
        self.assertTokenPair(verify_code(self.client, phone, code), phone=phone)


class CodeBackoffTest(AuthTestCase):
    """API.md: after failure n the next attempt waits 500 ms x 2^(n-1) (here
    300 ms, TALLY_CODE_BACKOFF_MS), earlier is 429 + Retry-After; the 5th
    failure burns the code (CODE_LOCKED) until a new one is requested."""

    # Long enough that "at once" is reliably early on 2 busy cores.
    backoff_s = 0.3
    service_env = {"TALLY_DEV": "1", "TALLY_CODE_BACKOFF_MS": str(int(backoff_s * 1000)),
                   "TALLY_CODE_FAILURES_MAX": "5"}

    def wrong(self, code):
        return "%06d" % ((int(code) + 1) % 1000000)

    def test_backoff_lock_and_unlock(self):
        phone = unique_phone()
        code = self.code_for(phone)
        wrong = self.wrong(code)
        for failure in range(1, 5):
            with self.subTest(failure=failure):
                self.assertAuthError(verify_code(self.client, phone, wrong), "INVALID_CODE")
                # At once: too early, even with the right code.
                self.assertRateLimited(verify_code(self.client, phone, code))
                time.sleep(self.backoff_s * 2 ** (failure - 1) + 0.1)
        # The 5th failure burns the code.
        self.assertAuthError(verify_code(self.client, phone, wrong), "CODE_LOCKED")
        # Locked, not merely backing off: the right code is refused too.
        self.assertAuthError(verify_code(self.client, phone, code), "CODE_LOCKED")
        # A new code replaces the burnt one and starts with a clean slate.
        fresh = self.code_for(phone)
        self.assertTokenPair(verify_code(self.client, phone, fresh), phone=phone)
        # Failures were audited: one row per wrong and per early attempt.
        failed = harness.wait_for(lambda: self.service.count(
            "audit_log WHERE event = 'login_failed' AND detail LIKE '%code%'") >= 5)
        self.assertTrue(failed)

    def test_rate_limited_attempts_do_not_count_as_failures(self):
        phone = unique_phone()
        code = self.code_for(phone)
        self.assertAuthError(verify_code(self.client, phone, self.wrong(code)), "INVALID_CODE")
        for _ in range(5):
            self.assertRateLimited(verify_code(self.client, phone, self.wrong(code)))
        time.sleep(self.backoff_s + 0.1)
        self.assertTokenPair(verify_code(self.client, phone, code), phone=phone)


class ExpiryTest(AuthTestCase):
    """Links and codes that live 1 s (TALLY_MAGIC_LINK_TTL_S, TALLY_CODE_TTL_S)."""

    service_env = {"TALLY_DEV": "1", "TALLY_MAGIC_LINK_TTL_S": "1", "TALLY_CODE_TTL_S": "1"}

    def test_an_expired_magic_link_is_token_expired(self):
        email = unique_email("late")
        response = request_magic_link(self.client, email)
        self.assertEqual(response.status, 202, response)
        self.assertEqual(response.json()["expires_in"], 1)
        token = response.json()["debug_token"]
        time.sleep(1.5)
        self.assertAuthError(verify_magic_link(self.client, token), "TOKEN_EXPIRED")
        self.assertEqual(self.service.count("users WHERE email = %s" % sql_text(email)), 0)
        # A fresh link works.
        self.assertTokenPair(verify_magic_link(self.client, self.magic_token(email)), email=email)

    def test_an_expired_code_is_code_expired(self):
        phone = unique_phone()
        response = request_code(self.client, phone)
        self.assertEqual(response.json()["expires_in"], 1)
        code = response.json()["debug_code"]
        time.sleep(1.5)
        self.assertAuthError(verify_code(self.client, phone, code), "CODE_EXPIRED")
        self.assertTokenPair(verify_code(self.client, phone, self.code_for(phone)), phone=phone)


if __name__ == "__main__":
    unittest.main()
