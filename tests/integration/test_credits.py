"""API.md "Credits": balance, ledger (types, references, newest first,
pagination, *_after chain, sums), charges, admin grants and debits, and the
validation of every field."""

import json
import unittest
import urllib.parse
import uuid

import harness
from harness import RFC3339_UTC_RE, UUID_RE, ServiceTestCase, balance, charge, check_ledger_chain, ledger

charge_amount_max = 10 ** 9
ledger_limit_default = 50
ledger_limit_max = 200


class CreditsTest(ServiceTestCase):

    def admin_credit(self, user_id, body, key=None):
        return self.client.request(
            "POST", "/v1/admin/users/%s/credits" % user_id,
            body=body if isinstance(body, (bytes, str)) else json.dumps(body),
            token=self.service.admin_token,
            headers={"Content-Type": "application/json", "Idempotency-Key": key or uuid.uuid4().hex})

    def raw_charge(self, token, body):
        return self.client.request("POST", "/v1/me/charges", body=body, token=token,
                                   headers={"Content-Type": "application/json",
                                            "Idempotency-Key": uuid.uuid4().hex})

    def assertUnchanged(self, token, expected_balance, expected_entries):
        self.assertEqual(balance(self.client, token), expected_balance)
        self.assertEqual(ledger(self.client, token), expected_entries)

    # Balance and ledger basics ---------------------------------------------------

    def test_new_user_has_zero_balance_and_empty_ledger(self):
        user_id = self.service.create_user()
        token = self.service.token(user_id)
        self.assertEqual(balance(self.client, token), {"available": 0, "reserved": 0})
        response = self.client.get("/v1/me/ledger", token=token)
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"data": [], "next_cursor": None})

    def test_grant_charge_debit_and_their_ledger_entries(self):
        user_id = self.service.create_user()
        token = self.service.token(user_id)

        response = self.admin_credit(user_id, {"amount": 100, "reason": "welcome bonus"})
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"available": 100, "reserved": 0})

        response = charge(self.client, token, 30, description="thirty")
        self.assertEqual(response.status, 201, response)
        body = response.json()
        self.assertEqual(set(body), {"id", "amount", "available"}, body)
        self.assertRegex(body["id"], UUID_RE)
        self.assertEqual((body["amount"], body["available"]), (30, 70))
        charge_id = body["id"]

        response = self.admin_credit(user_id, {"amount": -20, "reason": "correction"})
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"available": 50, "reserved": 0})

        self.assertEqual(balance(self.client, token), {"available": 50, "reserved": 0})
        entries = ledger(self.client, token)
        self.assertEqual([(e["type"], e["amount"], e["reference"], e["available_after"], e["reserved_after"])
                          for e in entries],
                         [("debit", 20, "correction", 50, 0),
                          ("charge", 30, charge_id, 70, 0),
                          ("grant", 100, "welcome bonus", 100, 0)])
        for entry in entries:
            self.assertEqual(set(entry), {"id", "type", "amount", "available_after", "reserved_after",
                                          "reference", "created_at"}, entry)
            self.assertRegex(entry["created_at"], RFC3339_UTC_RE)
        self.assertEqual(len({entry["id"] for entry in entries}), 3)
        self.assertEqual(sorted(e["created_at"] for e in entries), [e["created_at"] for e in reversed(entries)])
        check_ledger_chain(self, entries, balance(self.client, token))

    def test_users_are_isolated(self):
        first, first_token = self.service.funded_user(10)
        second, second_token = self.service.funded_user(10)
        self.assertEqual(charge(self.client, first_token, 4).status, 201)
        self.assertEqual(balance(self.client, first_token)["available"], 6)
        self.assertEqual(balance(self.client, second_token)["available"], 10)
        self.assertEqual(len(ledger(self.client, second_token)), 1)

    # Insufficient credits and unknown users ---------------------------------------------

    def test_charge_beyond_available_is_402_and_changes_nothing(self):
        user_id, token = self.service.funded_user(10)
        before, entries = balance(self.client, token), ledger(self.client, token)
        for amount in (11, charge_amount_max):
            with self.subTest(amount=amount):
                self.assertProblem(charge(self.client, token, amount), 402, "INSUFFICIENT_CREDITS")
                self.assertUnchanged(token, before, entries)
        response = charge(self.client, token, 10)
        self.assertEqual(response.status, 201, response)
        self.assertEqual(response.json()["available"], 0)
        self.assertProblem(charge(self.client, token, 1), 402, "INSUFFICIENT_CREDITS")
        self.assertEqual(balance(self.client, token), {"available": 0, "reserved": 0})

    def test_admin_debit_below_zero_is_402_and_changes_nothing(self):
        user_id, token = self.service.funded_user(10)
        before, entries = balance(self.client, token), ledger(self.client, token)
        self.assertProblem(self.admin_credit(user_id, {"amount": -11, "reason": "too much"}),
                           402, "INSUFFICIENT_CREDITS")
        self.assertUnchanged(token, before, entries)
        response = self.admin_credit(user_id, {"amount": -10, "reason": "all of it"})
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"available": 0, "reserved": 0})

    def test_admin_credit_for_unknown_user_is_404(self):
        response = self.admin_credit(str(uuid.uuid4()), {"amount": 5, "reason": "ghost"})
        self.assertProblem(response, 404, codes={"NOT_FOUND", "USER_NOT_FOUND"})

    def test_grant_that_would_overflow_int64_is_refused(self):
        user_id, token = self.service.funded_user(0)
        half = 2 ** 62
        first = self.admin_credit(user_id, {"amount": half, "reason": "huge"})
        self.assertIn(first.status, (200, 422), first)
        if first.status == 422:
            self.assertEqual(balance(self.client, token)["available"], 0)
            return
        before, entries = balance(self.client, token), ledger(self.client, token)
        second = self.admin_credit(user_id, {"amount": half, "reason": "overflow"})
        self.assertGreaterEqual(second.status, 400, second)
        self.assertLess(second.status, 500, second)
        self.assertUnchanged(token, before, entries)

    # Validation --------------------------------------------------------------------------

    def test_charge_amount_validation_names_the_field(self):
        user_id, token = self.service.funded_user(50)
        before, entries = balance(self.client, token), ledger(self.client, token)
        bad_bodies = {
            "zero": '{"amount": 0}',
            "negative": '{"amount": -1}',
            "fraction": '{"amount": 1.5}',
            "float with zero fraction": '{"amount": 1.0}',
            "string": '{"amount": "5"}',
            "boolean": '{"amount": true}',
            "null": '{"amount": null}',
            "object": '{"amount": {}}',
            "array": '{"amount": [5]}',
            "above 10^9": '{"amount": %d}' % (charge_amount_max + 1),
            "beyond int64": '{"amount": 100000000000000000000}',
            "missing": '{"description": "no amount"}',
            "empty object": "{}",
        }
        for name, body in bad_bodies.items():
            with self.subTest(case=name):
                self.assertValidationFields(self.raw_charge(token, body), ["amount"])
        self.assertUnchanged(token, before, entries)

    def test_every_bad_field_is_listed(self):
        user_id, token = self.service.funded_user(50)
        before, entries = balance(self.client, token), ledger(self.client, token)
        self.assertValidationFields(self.raw_charge(token, '{"amount": 0, "description": 5}'),
                                    ["amount", "description"])
        self.assertValidationFields(self.admin_credit(user_id, {}), ["amount", "reason"])
        self.assertValidationFields(self.admin_credit(user_id, {"amount": "7", "reason": 7}),
                                    ["amount", "reason"])
        self.assertUnchanged(token, before, entries)

    def test_charge_amount_bounds_are_inclusive(self):
        user_id, token = self.service.funded_user(charge_amount_max)
        self.assertEqual(charge(self.client, token, charge_amount_max).status, 201)
        self.assertEqual(balance(self.client, token)["available"], 0)
        self.assertEqual(self.admin_credit(user_id, {"amount": 1, "reason": "one"}).status, 200)
        self.assertEqual(charge(self.client, token, 1).status, 201)

    def test_admin_amount_validation(self):
        user_id, token = self.service.funded_user(50)
        before, entries = balance(self.client, token), ledger(self.client, token)
        for name, amount in (("zero", "0"), ("fraction", "1.5"), ("negative fraction", "-2.5"),
                             ("string", '"5"'), ("boolean", "true"), ("null", "null")):
            with self.subTest(case=name):
                response = self.admin_credit(user_id, '{"amount": %s, "reason": "r"}' % amount)
                self.assertValidationFields(response, ["amount"])
        self.assertUnchanged(token, before, entries)

    # Ledger pages ------------------------------------------------------------------------------

    def test_ledger_pages_newest_first_without_gaps_or_repeats(self):
        user_id, token = self.service.funded_user(100)
        charge_ids = []
        for amount in range(1, 7):
            response = charge(self.client, token, amount)
            self.assertEqual(response.status, 201, response)
            charge_ids.append(response.json()["id"])
        everything = ledger(self.client, token)
        self.assertEqual(len(everything), 7)
        self.assertEqual([e["reference"] for e in everything[:6]], list(reversed(charge_ids)))
        self.assertEqual(everything[6]["type"], "grant")

        pages, cursor = [], None
        for _ in range(10):
            path = "/v1/me/ledger?limit=3" + ("&cursor=" + urllib.parse.quote(cursor, safe="") if cursor else "")
            response = self.client.get(path, token=token)
            self.assertEqual(response.status, 200, response)
            page = response.json()
            self.assertEqual(set(page), {"data", "next_cursor"})
            pages.append(page["data"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
            self.assertIsInstance(cursor, str)
        self.assertEqual([len(page) for page in pages], [3, 3, 1])
        self.assertEqual([entry for page in pages for entry in page], everything)
        check_ledger_chain(self, everything, balance(self.client, token))

    def test_ledger_default_page_is_50(self):
        user_id, token = self.service.funded_user(1000)
        for _ in range(ledger_limit_default + 1):
            self.assertEqual(charge(self.client, token, 1).status, 201)
        response = self.client.get("/v1/me/ledger", token=token)
        self.assertEqual(response.status, 200, response)
        page = response.json()
        self.assertEqual(len(page["data"]), ledger_limit_default)
        self.assertIsNotNone(page["next_cursor"])
        rest = self.client.get("/v1/me/ledger?cursor=" + urllib.parse.quote(page["next_cursor"], safe=""),
                               token=token).json()
        self.assertEqual(len(rest["data"]), 2)
        self.assertIsNone(rest["next_cursor"])
        self.assertEqual(rest["data"][-1]["type"], "grant")
        everything = ledger(self.client, token)
        self.assertEqual(len(everything), ledger_limit_default + 2)
        check_ledger_chain(self, everything, balance(self.client, token))
        self.assertEqual(len(self.client.get("/v1/me/ledger?limit=200", token=token).json()["data"]), 52)
        self.assertEqual(len(self.client.get("/v1/me/ledger?limit=1", token=token).json()["data"]), 1)

    def test_ledger_limit_validation(self):
        user_id, token = self.service.funded_user(5)
        for limit in ("0", str(ledger_limit_max + 1), "abc", "-1", "1.5"):
            with self.subTest(limit=limit):
                response = self.client.get("/v1/me/ledger?limit=" + limit, token=token)
                self.assertValidationFields(response, ["limit"])

    def test_garbage_cursor_is_a_client_error(self):
        user_id, token = self.service.funded_user(5)
        for cursor in ("garbage", "%00%01", "A" * 300, "eyJ4IjoxfQ"):
            with self.subTest(cursor=cursor):
                response = self.client.get("/v1/me/ledger?cursor=" + cursor, token=token)
                self.assertIn(response.status, (400, 422), response)
                self.assertProblem(response, response.status)


if __name__ == "__main__":
    unittest.main()
