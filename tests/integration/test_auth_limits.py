"""API.md "Auth" rate limits, each with 429 RATE_LIMITED and Retry-After
(whole seconds, >= 1): magic links per email and per client IP (varied with
X-Forwarded-For, trusted here by TALLY_TRUST_FORWARDED_FOR=1), codes per
phone, refreshes per session. A refused request changes nothing; other
keys are not affected."""

import unittest
import uuid

from harness import (AuthTestCase, refresh, request_code, request_magic_link, sql_text,
                     unique_email, unique_phone)

per_email = 3
per_ip = 4
per_phone = 2
per_session = 2


def from_ip(ip):
    return {"X-Forwarded-For": ip}


class RateLimitTest(AuthTestCase):

    service_env = {
        "TALLY_DEV": "1",
        "TALLY_TRUST_FORWARDED_FOR": "1",
        "TALLY_RATE_MAGIC_LINK_PER_EMAIL": str(per_email),
        "TALLY_RATE_MAGIC_LINK_PER_IP": str(per_ip),
        "TALLY_RATE_CODE_PER_PHONE": str(per_phone),
        "TALLY_RATE_REFRESH_PER_SESSION": str(per_session),
    }

    def outbox_count(self, destination):
        return self.service.count("outbox WHERE destination = %s" % sql_text(destination))

    def test_magic_links_per_email(self):
        email = unique_email("limit")
        # Different client IPs: only the per-email limit applies.
        for index in range(per_email):
            response = request_magic_link(self.client, email, headers=from_ip("198.51.100.%d" % index))
            self.assertEqual(response.status, 202, response)
        refused = request_magic_link(self.client, email, headers=from_ip("198.51.100.200"))
        self.assertRateLimited(refused)
        self.assertNotIn("debug_token", refused.json())
        self.assertEqual(self.outbox_count(email), per_email)
        # The same address, spelled differently, is the same key.
        self.assertRateLimited(request_magic_link(self.client, " " + email.upper(),
                                                  headers=from_ip("198.51.100.201")))
        # Another email is not limited.
        other = unique_email("limit-other")
        self.assertEqual(request_magic_link(self.client, other, headers=from_ip("198.51.100.202"))
                         .status, 202)

    def test_magic_links_per_client_ip(self):
        # A random last octet, so reruns against one store do not collide.
        ip = "203.0.113.%d" % (uuid.uuid4().int % 250 + 1)
        for _ in range(per_ip):
            response = request_magic_link(self.client, unique_email("ip"), headers=from_ip(ip))
            self.assertEqual(response.status, 202, response)
        blocked_email = unique_email("ip-blocked")
        self.assertRateLimited(request_magic_link(self.client, blocked_email, headers=from_ip(ip)))
        self.assertEqual(self.outbox_count(blocked_email), 0)
        # The first X-Forwarded-For entry is the client; later ones are proxies.
        self.assertRateLimited(request_magic_link(self.client, unique_email("ip"),
                                                  headers=from_ip(ip + ", 10.0.0.1")))
        # Another client IP is not limited.
        other = request_magic_link(self.client, unique_email("ip"), headers=from_ip("192.0.2.77"))
        self.assertEqual(other.status, 202, other)

    def test_codes_per_phone(self):
        phone = unique_phone()
        for _ in range(per_phone):
            self.code_for(phone)
        refused = request_code(self.client, phone)
        self.assertRateLimited(refused)
        self.assertNotIn("debug_code", refused.json())
        self.assertEqual(self.outbox_count(phone), per_phone)
        self.code_for(unique_phone())

    def test_refreshes_per_session(self):
        pair = self.login_email(headers=from_ip("192.0.2.10"))
        token = pair["refresh_token"]
        for _ in range(per_session):
            token = self.assertTokenPair(refresh(self.client, token))["refresh_token"]
        self.assertRateLimited(refresh(self.client, token))
        # Refused, not rotated and not treated as reuse: once the limit
        # recovers the same token still works (checked without waiting a
        # minute: another session of the same user is not limited).
        other = self.login_email(pair["user"]["email"], headers=from_ip("192.0.2.11"))
        self.assertTokenPair(refresh(self.client, other["refresh_token"]))
        live = self.client.get("/v1/me/balance", token=pair["access_token"])
        self.assertEqual(live.status, 200, live)


if __name__ == "__main__":
    unittest.main()
