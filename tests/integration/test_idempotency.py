"""API.md "Conventions/idempotency" on the two [idem, required] endpoints:
required and valid keys, quoted keys, byte-identical replays, key reuse with
another body, keys in flight, and per-caller scope."""

import json
import unittest
import uuid

import harness
from harness import ServiceTestCase, balance, charge, ledger, raw_exchange, run_concurrently, status_of

idempotency_key_bytes_max = 255


class IdempotencyTest(ServiceTestCase):

    def charge_with(self, token, headers, body=b'{"amount": 1}'):
        headers = dict(headers)
        headers.setdefault("Content-Type", "application/json")
        return self.client.request("POST", "/v1/me/charges", body=body, token=token, headers=headers)

    def assertReplay(self, original, replay):
        self.assertEqual(replay.status, original.status, replay)
        self.assertEqual(replay.body, original.body)
        self.assertEqual((replay.header("Idempotent-Replayed") or "").lower(), "true", replay)

    def test_key_is_required(self):
        user_id, token = self.service.funded_user(10)
        self.assertProblem(self.charge_with(token, {}), 400, "IDEMPOTENCY_KEY_REQUIRED")
        response = self.client.post("/v1/admin/users/%s/credits" % user_id,
                                    json_body={"amount": 5, "reason": "no key"}, token=self.service.admin_token)
        self.assertProblem(response, 400, "IDEMPOTENCY_KEY_REQUIRED")
        self.assertEqual(balance(self.client, token)["available"], 10)
        self.assertEqual(len(ledger(self.client, token)), 1)

    def test_invalid_keys_are_400(self):
        user_id, token = self.service.funded_user(10)
        for name, key in (("empty", ""), ("too long", "k" * (idempotency_key_bytes_max + 1)),
                          ("empty quoted", '""')):
            with self.subTest(key=name):
                response = self.charge_with(token, {"Idempotency-Key": key})
                self.assertProblem(response, 400)
        # Control characters are not printable (sent raw: http.client refuses some of them).
        for key in (b"ab\x01cd", b"ab\x7fcd", b"tab\there"):
            with self.subTest(key=key):
                body = b'{"amount": 1}'
                raw, _ = raw_exchange(self.service.port,
                                      b"POST /v1/me/charges HTTP/1.1\r\nHost: t\r\n"
                                      b"Authorization: Bearer " + token.encode() + b"\r\n"
                                      b"Content-Type: application/json\r\nIdempotency-Key: " + key + b"\r\n"
                                      b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                                      b"Connection: close\r\n\r\n" + body)
                self.assertEqual(status_of(raw), 400, raw)
        self.assertEqual(balance(self.client, token)["available"], 10)
        self.assertEqual(len(ledger(self.client, token)), 1)

    def test_longest_key_is_accepted(self):
        user_id, token = self.service.funded_user(10)
        key = "k" * idempotency_key_bytes_max
        first = self.charge_with(token, {"Idempotency-Key": key})
        self.assertEqual(first.status, 201, first)
        self.assertReplay(first, self.charge_with(token, {"Idempotency-Key": key}))
        self.assertEqual(balance(self.client, token)["available"], 9)

    def test_quoted_key_is_the_same_key_unquoted(self):
        user_id, token = self.service.funded_user(10)
        key = "quoted-" + uuid.uuid4().hex
        first = self.charge_with(token, {"Idempotency-Key": '"%s"' % key})
        self.assertEqual(first.status, 201, first)
        self.assertReplay(first, self.charge_with(token, {"Idempotency-Key": key}))
        self.assertReplay(first, self.charge_with(token, {"Idempotency-Key": '"%s"' % key}))
        self.assertEqual(balance(self.client, token)["available"], 9)
        self.assertEqual(len(ledger(self.client, token)), 2)

    def test_replay_is_byte_identical_and_charges_once(self):
        user_id, token = self.service.funded_user(100)
        key = "replay-" + uuid.uuid4().hex
        first = charge(self.client, token, 7, key=key, description="once")
        self.assertEqual(first.status, 201, first)
        self.assertNotEqual((first.header("Idempotent-Replayed") or "").lower(), "true", first)
        # Later charges change the balance; the replay still carries the stored body.
        self.assertEqual(charge(self.client, token, 3).status, 201)
        for _ in range(3):
            self.assertReplay(first, charge(self.client, token, 7, key=key, description="once"))
        self.assertEqual(balance(self.client, token)["available"], 90)
        charges = [e for e in ledger(self.client, token) if e["type"] == "charge"]
        self.assertEqual(len(charges), 2)
        self.assertEqual(charges[-1]["reference"], first.json()["id"])

    def test_admin_grant_replay(self):
        user_id, token = self.service.funded_user(0)
        key = "grant-" + uuid.uuid4().hex
        first = self.service.grant(user_id, 25, key=key, reason="bonus", client=self.client)
        self.assertEqual(first.status, 200, first)
        self.assertReplay(first, self.service.grant(user_id, 25, key=key, reason="bonus", client=self.client))
        self.assertEqual(balance(self.client, token)["available"], 25)
        self.assertEqual(len(ledger(self.client, token)), 1)

    def test_same_key_with_another_body_is_422_reused(self):
        user_id, token = self.service.funded_user(100)
        key = "reuse-" + uuid.uuid4().hex
        first = charge(self.client, token, 5, key=key)
        self.assertEqual(first.status, 201, first)
        self.assertProblem(charge(self.client, token, 6, key=key), 422, "IDEMPOTENCY_KEY_REUSED")
        self.assertProblem(charge(self.client, token, 5, key=key, description="different"),
                           422, "IDEMPOTENCY_KEY_REUSED")
        self.assertEqual(balance(self.client, token)["available"], 95)
        self.assertReplay(first, charge(self.client, token, 5, key=key))

        grant_key = "grant-reuse-" + uuid.uuid4().hex
        self.assertEqual(self.service.grant(user_id, 10, key=grant_key, reason="a").status, 200)
        self.assertProblem(self.service.grant(user_id, 11, key=grant_key, reason="a"),
                           422, "IDEMPOTENCY_KEY_REUSED")
        self.assertEqual(balance(self.client, token)["available"], 105)

    def test_keys_are_scoped_to_the_caller(self):
        first_user, first_token = self.service.funded_user(10)
        second_user, second_token = self.service.funded_user(10)
        key = "shared-" + uuid.uuid4().hex
        first = charge(self.client, first_token, 2, key=key)
        second = charge(self.client, second_token, 2, key=key)
        self.assertEqual(first.status, 201, first)
        self.assertEqual(second.status, 201, second)
        self.assertNotEqual((second.header("Idempotent-Replayed") or "").lower(), "true", second)
        self.assertNotEqual(first.json()["id"], second.json()["id"])
        self.assertEqual(balance(self.client, first_token)["available"], 8)
        self.assertEqual(balance(self.client, second_token)["available"], 8)

    def test_concurrent_identical_requests_charge_exactly_once(self):
        """Same key from many connections at once: each answer is the charge
        (original or replay) or 409 IDEMPOTENCY_KEY_IN_USE; one charge only."""
        user_id, token = self.service.funded_user(1000)
        rounds, copies = 3, 12
        seen_in_use = 0
        for round_index in range(rounds):
            key = "race-%d-%s" % (round_index, uuid.uuid4().hex)
            responses = run_concurrently([lambda c: charge(c, token, 10, key=key)] * copies, self.service.port)
            for response in responses:
                self.assertIsInstance(response, harness.Response, response)
                self.assertIn(response.status, (201, 409), response)
                if response.status == 409:
                    self.assertProblem(response, 409, "IDEMPOTENCY_KEY_IN_USE")
                    seen_in_use += 1
            created = [r for r in responses if r.status == 201]
            self.assertTrue(created, responses)
            originals = [r for r in created if (r.header("Idempotent-Replayed") or "").lower() != "true"]
            self.assertEqual(len(originals), 1, created)
            self.assertEqual({r.body for r in created}, {originals[0].body})
            self.assertReplay(originals[0], charge(self.client, token, 10, key=key))
        self.assertEqual(balance(self.client, token)["available"], 1000 - 10 * rounds)
        charges = [e for e in ledger(self.client, token) if e["type"] == "charge"]
        self.assertEqual(len(charges), rounds)
        harness.check_ledger_chain(self, ledger(self.client, token), balance(self.client, token))
        print("409 IDEMPOTENCY_KEY_IN_USE seen %d times in %d racing requests" % (seen_in_use, rounds * copies))


if __name__ == "__main__":
    unittest.main()
