"""API.md "Auth", sessions: refresh-token rotation, the grace window that
returns the current refresh token, reuse after the window revoking the whole
session, logout revoking access tokens at once on every endpoint, and
sessions and used tokens surviving a restart."""

import time
import unittest
import uuid

import harness
from harness import (AuthTestCase, jwt_claims, logout, refresh, request_magic_link, sql_text,
                     unique_email, unique_phone, verify_code, verify_magic_link)


def sid_of(pair):
    return jwt_claims(pair["access_token"])["sid"]


class SessionCase(AuthTestCase):
    """Assertions shared by the session tests."""

    def assertRevoked(self, access_token):
        """Every caller endpoint refuses the token with SESSION_REVOKED and a
        Bearer challenge."""
        for name, response in (
                ("balance", self.client.get("/v1/me/balance", token=access_token)),
                ("ledger", self.client.get("/v1/me/ledger", token=access_token)),
                ("charges", harness.charge(self.client, access_token, 1)),
                ("auth/me", self.client.get("/v1/auth/me", token=access_token))):
            with self.subTest(endpoint=name):
                self.assertAuthError(response, "SESSION_REVOKED")
                self.assertIn('error="invalid_token"', response.header("WWW-Authenticate") or "",
                              response)

    def assertLive(self, access_token):
        response = self.client.get("/v1/me/balance", token=access_token)
        self.assertEqual(response.status, 200, response)

    def audit_events(self, session_id):
        rows = self.service.query("SELECT event FROM audit_log WHERE session_id = %s"
                                  % sql_text(session_id))
        return [row[0] for row in rows]


class RefreshTest(SessionCase):

    service_env = {"TALLY_DEV": "1", "TALLY_RATE_MAGIC_LINK_PER_IP": "1000"}

    def test_refresh_rotates_the_refresh_token(self):
        first = self.login_email()
        second = self.assertTokenPair(refresh(self.client, first["refresh_token"]))
        self.assertNotEqual(second["refresh_token"], first["refresh_token"])
        self.assertNotEqual(second["access_token"], first["access_token"])
        self.assertEqual(second["user"], first["user"])
        self.assertEqual(sid_of(second), sid_of(first))
        self.assertLive(second["access_token"])
        # Rotation does not revoke the session: the older access token lives on.
        self.assertLive(first["access_token"])
        third = self.assertTokenPair(refresh(self.client, second["refresh_token"]))
        self.assertNotIn(third["refresh_token"], (first["refresh_token"], second["refresh_token"]))
        self.assertEqual(sid_of(third), sid_of(first))
        events = harness.wait_for(lambda: self.audit_events(sid_of(first)).count("refreshed") >= 2
                                  and self.audit_events(sid_of(first)))
        self.assertIn("login_succeeded", events)
        self.assertEqual(events.count("refreshed"), 2, events)

    def test_within_the_grace_window_the_current_refresh_token_is_returned(self):
        first = self.login_email()
        second = self.assertTokenPair(refresh(self.client, first["refresh_token"]))
        # The client lost the answer and retries with the old token (< 10 s).
        again = self.assertTokenPair(refresh(self.client, first["refresh_token"]))
        self.assertEqual(again["refresh_token"], second["refresh_token"])
        self.assertEqual(sid_of(again), sid_of(first))
        self.assertLive(again["access_token"])
        self.assertNotEqual(jwt_claims(again["access_token"])["jti"],
                            jwt_claims(second["access_token"])["jti"])
        # The current token keeps working after the grace answer.
        self.assertTokenPair(refresh(self.client, second["refresh_token"]))

    def test_bad_refresh_tokens_are_invalid_and_revoke_nothing(self):
        pair = self.login_email()
        real = pair["refresh_token"]
        tampered = real[:-4] + ("AAAA" if real[-4:] != "AAAA" else "BBBB")
        magic = self.magic_token(unique_email("not-refresh"))
        for name, token in (("empty", ""), ("garbage", "garbage"), ("tampered", tampered),
                            ("a magic-link token", magic), ("an access token", pair["access_token"]),
                            ("truncated", real[:-1]), ("extended", real + "A")):
            with self.subTest(token=name):
                self.assertAuthError(refresh(self.client, token), "INVALID_TOKEN")
        self.assertLive(pair["access_token"])
        self.assertTokenPair(refresh(self.client, real))
        # The magic link was not consumed by being presented as a refresh token.
        self.assertTokenPair(verify_magic_link(self.client, magic))


class ReuseTest(SessionCase):
    """A rotated-out refresh token after the grace window (1 s here) is reuse."""

    grace_s = 1
    service_env = {"TALLY_DEV": "1", "TALLY_REFRESH_GRACE_S": str(grace_s)}

    def test_reuse_after_the_grace_window_revokes_the_whole_session(self):
        email = unique_email("reuse")
        first = self.login_email(email)
        bystander = self.login_email(email)  # another session of the same user
        second = self.assertTokenPair(refresh(self.client, first["refresh_token"]))
        time.sleep(self.grace_s + 0.5)
        self.assertAuthError(refresh(self.client, first["refresh_token"]), "REFRESH_TOKEN_REUSED")
        # The whole session is gone: its current refresh token and every
        # access token it issued.
        self.assertAuthError(refresh(self.client, second["refresh_token"]), "SESSION_REVOKED")
        self.assertRevoked(second["access_token"])
        self.assertRevoked(first["access_token"])
        # Presenting the reused token again stays refused.
        self.assertProblem(refresh(self.client, first["refresh_token"]), 401,
                           codes={"REFRESH_TOKEN_REUSED", "SESSION_REVOKED"})
        # Other sessions of the user are untouched.
        self.assertLive(bystander["access_token"])
        self.assertTokenPair(refresh(self.client, bystander["refresh_token"]))
        self.assertIn("refresh_reuse_detected",
                      harness.wait_for(lambda: self.audit_events(sid_of(first))))


class LogoutTest(SessionCase):

    service_env = {"TALLY_DEV": "1", "TALLY_RATE_MAGIC_LINK_PER_IP": "1000"}

    def test_logout_revokes_the_session_at_once(self):
        email = unique_email("bye")
        pair = self.login_email(email)
        other = self.login_email(email)
        self.assertLive(pair["access_token"])
        response = logout(self.client, pair["access_token"], headers={"X-Request-ID": "logout-1"})
        self.assertEqual(response.status, 204, response)
        self.assertEqual(response.body, b"")
        self.assertRevoked(pair["access_token"])
        self.assertAuthError(refresh(self.client, pair["refresh_token"]), "SESSION_REVOKED")
        self.assertAuthError(logout(self.client, pair["access_token"]), "SESSION_REVOKED")
        # Only that session.
        self.assertLive(other["access_token"])
        rows = self.service.query(
            "SELECT event, request_id, user_id, client_ip FROM audit_log WHERE session_id = %s"
            " AND event = 'logged_out'" % sql_text(sid_of(pair)))
        self.assertEqual(rows, [("logged_out", "logout-1", pair["user"]["id"], "127.0.0.1")])

    def test_logout_of_a_phone_session_with_a_json_body(self):
        phone = unique_phone()
        pair = self.assertTokenPair(verify_code(self.client, phone, self.code_for(phone)))
        response = self.client.post("/v1/auth/logout", json_body={}, token=pair["access_token"])
        self.assertEqual(response.status, 204, response)
        self.assertRevoked(pair["access_token"])

    def test_logout_needs_an_access_token(self):
        for headers in ({}, {"Authorization": "Bearer nope"}):
            with self.subTest(headers=headers):
                response = self.client.request("POST", "/v1/auth/logout", headers=headers)
                self.assertProblem(response, 401, "UNAUTHENTICATED")
                self.assertIn('error="invalid_token"', response.header("WWW-Authenticate") or "")


class RestartTest(SessionCase):
    """Sessions, rotations, revocations and used links live in the store."""

    service_env = {"TALLY_DEV": "1"}

    def test_sessions_and_used_tokens_survive_a_restart(self):
        email = unique_email("durable")
        used_link = self.magic_token(email)
        live = self.assertTokenPair(verify_magic_link(self.client, used_link), email=email)
        rotated = self.assertTokenPair(refresh(self.client, live["refresh_token"]))
        gone = self.login_email(email)
        self.assertEqual(logout(self.client, gone["access_token"]).status, 204)
        unused_link = self.magic_token(email)
        phone = unique_phone()
        code = self.code_for(phone)

        self.client.close()
        self.service.restart()
        self.client = self.service.client()

        self.assertAuthError(verify_magic_link(self.client, used_link), "INVALID_TOKEN")
        self.assertLive(live["access_token"])
        self.assertLive(rotated["access_token"])
        me = self.client.get("/v1/auth/me", token=rotated["access_token"])
        self.assertEqual(me.json()["user"], live["user"])
        self.assertRevoked(gone["access_token"])
        self.assertAuthError(refresh(self.client, gone["refresh_token"]), "SESSION_REVOKED")
        latest = self.assertTokenPair(refresh(self.client, rotated["refresh_token"]))
        self.assertEqual(sid_of(latest), sid_of(live))
        self.assertEqual(self.assertTokenPair(verify_magic_link(self.client, unused_link))["user"]["id"],
                         live["user"]["id"])
        self.assertTokenPair(verify_code(self.client, phone, code), phone=phone)
        self.assertEqual(self.service.count("users WHERE email = %s" % sql_text(email)), 1)


if __name__ == "__main__":
    unittest.main()
