"""API.md "Auth" and "Ops" records: the outbox holds a row per magic link and
per code; the audit log holds every login, refresh, reuse, logout and failed
attempt with request id, user, session and client IP (and never a secret);
outside dev mode no response carries debug_token / debug_code and no token,
code or refresh token appears in the service's log (its stderr)."""

import re
import unittest
import uuid

import harness
from harness import (AuthTestCase, jwt_claims, logout, refresh, request_code, request_magic_link,
                     sql_text, unique_email, unique_phone, verify_code, verify_magic_link)

MAGIC_TOKEN_IN_LINK_RE = re.compile(r"token=([A-Za-z0-9_-]+)")
CODE_IN_MESSAGE_RE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")


def request_id(name):
    return "%s-%s" % (name, uuid.uuid4().hex[:12])


class RecordsTest(AuthTestCase):

    service_env = {"TALLY_DEV": "1", "TALLY_CODE_BACKOFF_MS": "50"}

    def audit_rows(self, rid):
        """(event, user_id, session_id, client_ip, detail) of the rows of one request."""
        return harness.wait_for(lambda: self.service.query(
            "SELECT event, user_id, session_id, client_ip, detail FROM audit_log WHERE request_id = %s"
            % sql_text(rid)))

    def test_the_outbox_has_a_row_per_link_and_code(self):
        email = unique_email("mail")
        tokens = [self.magic_token(email) for _ in range(2)]
        rows = self.service.query("SELECT channel, destination, body, delivered_at FROM outbox"
                                  " WHERE destination = %s ORDER BY created_at" % sql_text(email))
        self.assertEqual(len(rows), 2, rows)
        for (channel, destination, body, delivered_at), token in zip(rows, tokens):
            self.assertEqual((channel, destination, delivered_at), ("email", email, ""))
            self.assertEqual(MAGIC_TOKEN_IN_LINK_RE.findall(body), [token], body)

        phone = unique_phone()
        codes = [self.code_for(phone) for _ in range(2)]
        rows = self.service.query("SELECT channel, body FROM outbox WHERE destination = %s"
                                  " ORDER BY created_at" % sql_text(phone))
        self.assertEqual([row[0] for row in rows], ["sms", "sms"])
        self.assertEqual([CODE_IN_MESSAGE_RE.findall(row[1]) for row in rows], [[c] for c in codes])

    def test_the_audit_log_records_every_login_refresh_logout_and_failure(self):
        email = unique_email("audit")
        token = self.magic_token(email)
        login_rid = request_id("login")
        pair = self.assertTokenPair(verify_magic_link(self.client, token,
                                                      headers={"X-Request-ID": login_rid}))
        user_id, session_id = pair["user"]["id"], jwt_claims(pair["access_token"])["sid"]
        self.assertEqual(self.audit_rows(login_rid),
                         [("login_succeeded", user_id, session_id, "127.0.0.1", "magic_link")])

        used_rid = request_id("used")
        self.assertAuthError(verify_magic_link(self.client, token, headers={"X-Request-ID": used_rid}),
                             "INVALID_TOKEN")
        [(event, _, _, client_ip, _)] = self.audit_rows(used_rid)
        self.assertEqual((event, client_ip), ("login_failed", "127.0.0.1"))

        refresh_rid = request_id("refresh")
        rotated = self.assertTokenPair(refresh(self.client, pair["refresh_token"],
                                               headers={"X-Request-ID": refresh_rid}))
        [(event, user, session, _, _)] = self.audit_rows(refresh_rid)
        self.assertEqual((event, user, session), ("refreshed", user_id, session_id))

        # A refresh token of this session with a wrong secret part.
        tampered = rotated["refresh_token"][:-4] + (
            "AAAA" if rotated["refresh_token"][-4:] != "AAAA" else "BBBB")
        tampered_rid = request_id("tampered")
        self.assertAuthError(refresh(self.client, tampered, headers={"X-Request-ID": tampered_rid}),
                             "INVALID_TOKEN")
        [(event, user, _, _, _)] = self.audit_rows(tampered_rid)
        self.assertEqual((event, user), ("refresh_failed", user_id))

        phone = unique_phone()
        code = self.code_for(phone)
        wrong_rid = request_id("wrong-code")
        self.assertAuthError(verify_code(self.client, phone, "%06d" % ((int(code) + 1) % 10 ** 6),
                                         headers={"X-Request-ID": wrong_rid}), "INVALID_CODE")
        [(event, _, _, _, detail)] = self.audit_rows(wrong_rid)
        self.assertEqual(event, "login_failed")
        self.assertNotIn(code, detail)

        logout_rid = request_id("logout")
        self.assertEqual(logout(self.client, rotated["access_token"],
                                headers={"X-Request-ID": logout_rid}).status, 204)
        [(event, user, session, client_ip, _)] = self.audit_rows(logout_rid)
        self.assertEqual((event, user, session, client_ip),
                         ("logged_out", user_id, session_id, "127.0.0.1"))

        # No secret in any audit row.
        secrets = [token, pair["refresh_token"], rotated["refresh_token"], tampered, code,
                   pair["access_token"], rotated["access_token"]]
        for row in self.service.query("SELECT * FROM audit_log"):
            text = "|".join(row)
            for secret in secrets:
                self.assertNotIn(secret, text)


class ProductionModeTest(AuthTestCase):
    """No TALLY_DEV: secrets only reach the outbox."""

    service_env = {}

    def test_no_debug_secrets_in_responses_or_logs(self):
        email = unique_email("prod")
        response = request_magic_link(self.client, email)
        self.assertEqual(response.status, 202, response)
        self.assertEqual(response.json(), {"status": "sent", "expires_in": 900})
        [body] = self.outbox_bodies(email)
        [token] = MAGIC_TOKEN_IN_LINK_RE.findall(body)
        pair = self.assertTokenPair(verify_magic_link(self.client, token), email=email)

        phone = unique_phone()
        response = request_code(self.client, phone)
        self.assertEqual(response.status, 202, response)
        self.assertEqual(response.json(), {"status": "sent", "expires_in": 300})
        [body] = self.outbox_bodies(phone)
        [code] = CODE_IN_MESSAGE_RE.findall(body)
        phone_pair = self.assertTokenPair(verify_code(self.client, phone, code), phone=phone)

        rotated = self.assertTokenPair(refresh(self.client, pair["refresh_token"]))
        last_rid = request_id("last")
        self.assertEqual(logout(self.client, rotated["access_token"],
                                headers={"X-Request-ID": last_rid}).status, 204)

        # The access log line of the last request is written: the log is complete.
        self.assertTrue(harness.wait_for(lambda: last_rid in "\n".join(self.service.log_lines())))
        log = "\n".join(self.service.log_lines())
        for name, secret in (("magic token", token), ("refresh token", pair["refresh_token"]),
                             ("rotated refresh token", rotated["refresh_token"]),
                             ("phone refresh token", phone_pair["refresh_token"]),
                             ("access token", pair["access_token"]),
                             ("signature", pair["access_token"].split(".")[2])):
            with self.subTest(secret=name):
                self.assertNotIn(secret, log)
        for record in self.service.log_records():
            for key, value in record.items():
                if isinstance(value, str):
                    self.assertIsNone(re.search(r"(?<![0-9])%s(?![0-9])" % code, value),
                                      "code in log field %s: %r" % (key, record))
            self.assertNotIn("debug_token", record)
            self.assertNotIn("debug_code", record)


if __name__ == "__main__":
    unittest.main()
