"""Issue 9, item 2: anonymous clients must not grow memory or the store.

A magic-link token or a phone code for an identity that was never requested
is refused (401 INVALID_TOKEN / INVALID_CODE, as for any bad one) without an
identity actor (tally_active_actors{kind="identity"}) and without an
identities row; audit rows for failed logins are rate-limited node-wide
(--rate-audit-login-failures); every anonymous auth endpoint has a per-IP
limit, and a request it refuses writes nothing."""

import base64
import os
import re
import time
import unittest
import uuid

from harness import (AuthTestCase, refresh, request_code, request_magic_link, run_concurrently,
                     sql_text, unique_email, unique_phone, verify_code, verify_magic_link)

audit_budget = 10
flood = 1000
per_ip = 3


def random_magic_token():
    """Well formed (16-byte identity id + 32 random bytes, base64url): a
    random identity that was never requested."""
    return base64.urlsafe_b64encode(os.urandom(48)).rstrip(b"=").decode()


def random_refresh_token():
    return base64.urlsafe_b64encode(os.urandom(64)).rstrip(b"=").decode()


def from_ip(ip):
    return {"X-Forwarded-For": ip}


def random_ip():
    return "198.18.%d.%d" % (uuid.uuid4().int % 250 + 1, uuid.uuid4().int % 250 + 1)


class UnknownIdentitiesTest(AuthTestCase):

    service_env = {
        "TALLY_DEV": "1",
        "TALLY_RATE_MAGIC_LINK_VERIFY_PER_IP": "100000",
        "TALLY_RATE_CODE_VERIFY_PER_IP": "100000",
        "TALLY_RATE_AUDIT_LOGIN_FAILURES": str(audit_budget),
    }

    def identity_actors(self):
        text = self.client.get("/metrics").body.decode()
        found = re.search(r'^tally_active_actors\{kind="identity"\} ([0-9.e+]+)$', text, re.M)
        self.assertIsNotNone(found, "no identity gauge in /metrics")
        return float(found.group(1))

    def identity_rows(self):
        return self.service.count("identities")

    def failed_login_audits(self):
        return self.service.count("audit_log WHERE event = 'login_failed'")

    def flood(self, requests):
        responses = run_concurrently(requests, self.service.port, connections=4)
        for response in responses:
            self.assertNotIsInstance(response, Exception, response)
        return responses

    def test_random_magic_link_tokens_start_no_actor_and_write_no_row(self):
        actors, rows, audits = self.identity_actors(), self.identity_rows(), self.failed_login_audits()
        tokens = [random_magic_token() for _ in range(flood)]
        responses = self.flood([lambda c, t=t: verify_magic_link(c, t) for t in tokens])
        for response in responses:
            self.assertAuthError(response, "INVALID_TOKEN")
        self.assertLessEqual(self.identity_actors(), actors)
        self.assertEqual(self.identity_rows(), rows)
        # Sampled: the budget's burst at most, not one row per attempt.
        self.assertLessEqual(self.failed_login_audits() - audits, audit_budget + 3)
        # A real login is unaffected.
        self.login_email()

    def test_random_phones_on_code_verify_write_no_row(self):
        actors, rows = self.identity_actors(), self.identity_rows()
        phones = ["+1%010d" % (uuid.uuid4().int % 10 ** 10) for _ in range(300)]
        responses = self.flood([lambda c, p=p: verify_code(c, p, "123456") for p in phones])
        for response in responses:
            self.assertAuthError(response, "INVALID_CODE")
        self.assertLessEqual(self.identity_actors(), actors)
        self.assertEqual(self.identity_rows(), rows)
        # Asked again (remembered as unknown): still refused, still nothing.
        self.assertAuthError(verify_code(self.client, phones[0], "123456"), "INVALID_CODE")
        self.assertEqual(self.identity_rows(), rows)
        # Once requested, the phone logs in.
        self.login_phone(phones[0])

    def test_a_dropped_audit_row_is_counted_in_the_next_one(self):
        # Spend the budget's burst (other tests may have already), then some.
        for _ in range(audit_budget + 5):
            self.assertAuthError(verify_magic_link(self.client, random_magic_token()), "INVALID_TOKEN")
        # One row per 60 / budget seconds comes back: the next one names the gap.
        time.sleep(60.0 / audit_budget + 0.5)
        rid = "gap-" + uuid.uuid4().hex
        self.assertAuthError(verify_magic_link(self.client, random_magic_token(),
                                               headers={"X-Request-ID": rid}), "INVALID_TOKEN")
        [(detail,)] = self.service.query("SELECT detail FROM audit_log WHERE request_id = %s"
                                         % sql_text(rid))
        self.assertRegex(detail, r"^unknown_token; [0-9]+ earlier failures not audited$")
        self.assertGreaterEqual(int(detail.split("; ")[1].split()[0]), 5)


class AnonymousPerIpLimitsTest(AuthTestCase):

    service_env = {
        "TALLY_DEV": "1",
        "TALLY_TRUST_FORWARDED_FOR": "1",
        "TALLY_RATE_MAGIC_LINK_PER_IP": str(per_ip),
        "TALLY_RATE_MAGIC_LINK_VERIFY_PER_IP": str(per_ip),
        "TALLY_RATE_CODE_PER_IP": str(per_ip),
        "TALLY_RATE_CODE_VERIFY_PER_IP": str(per_ip),
        "TALLY_RATE_REFRESH_PER_IP": str(per_ip),
    }

    def identity_row_exists(self, kind, value):
        return self.service.count("identities WHERE kind = %s AND value = %s"
                                  % (sql_text(kind), sql_text(value))) > 0

    def outbox_count(self, destination):
        return self.service.count("outbox WHERE destination = %s" % sql_text(destination))

    def test_code_requests_per_ip_stop_sms_pumping(self):
        ip = random_ip()
        for _ in range(per_ip):
            self.code_for(unique_phone(), headers=from_ip(ip))
        phone = unique_phone()
        refused = request_code(self.client, phone, headers=from_ip(ip))
        self.assertRateLimited(refused)
        self.assertNotIn("debug_code", refused.json())
        self.assertEqual(self.outbox_count(phone), 0)
        self.assertFalse(self.identity_row_exists("phone", phone))
        # Another client IP is not limited.
        self.code_for(phone, headers=from_ip(random_ip()))

    def test_a_magic_link_refused_by_the_ip_limit_writes_nothing(self):
        ip = random_ip()
        for _ in range(per_ip):
            self.magic_token(unique_email("ip"), headers=from_ip(ip))
        email = unique_email("ip-refused")
        self.assertRateLimited(request_magic_link(self.client, email, headers=from_ip(ip)))
        self.assertEqual(self.outbox_count(email), 0)
        self.assertFalse(self.identity_row_exists("email", email))

    def test_every_verify_and_refresh_is_limited_per_ip(self):
        cases = [
            ("magic-link verify", lambda h: verify_magic_link(self.client, random_magic_token(), headers=h),
             "INVALID_TOKEN"),
            ("code verify", lambda h: verify_code(self.client, unique_phone(), "123456", headers=h),
             "INVALID_CODE"),
            ("refresh", lambda h: refresh(self.client, random_refresh_token(), headers=h),
             "INVALID_TOKEN"),
        ]
        for name, call, code in cases:
            with self.subTest(name):
                ip = random_ip()
                for _ in range(per_ip):
                    self.assertAuthError(call(from_ip(ip)), code)
                self.assertRateLimited(call(from_ip(ip)))
                self.assertAuthError(call(from_ip(random_ip())), code)


if __name__ == "__main__":
    unittest.main()
