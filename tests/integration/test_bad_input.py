"""Every malformed, oversized or wrongly typed input gets its API.md error,
changes nothing, and leaves the process serving. Includes broken HTTP sent
over raw sockets."""

import json
import unittest
import uuid

import harness
from harness import Client, ServiceTestCase, balance, ledger, raw_exchange, status_of

body_bytes_max = 64 * 1024


class BadInputTest(ServiceTestCase):

    def setUp(self):
        super().setUp()
        self.user_id, self.token = self.service.funded_user(50)
        self.before = (balance(self.client, self.token), ledger(self.client, self.token))

    def tearDown(self):
        client = Client(self.service.port)
        try:
            self.assertEqual(client.get("/healthz").status, 200, "the service stopped serving")
            self.assertEqual((balance(client, self.token), ledger(client, self.token)), self.before,
                             "a rejected request changed the balance or the ledger")
        finally:
            client.close()
            super().tearDown()

    def send(self, path, body, content_type="application/json", token=None, key=True):
        headers = {}
        if content_type:
            headers["Content-Type"] = content_type
        if key:
            headers["Idempotency-Key"] = uuid.uuid4().hex
        client = Client(self.service.port)
        try:
            return client.request("POST", path, body=body, headers=headers, token=token or self.token)
        finally:
            client.close()

    def charges(self, body, **kwargs):
        return self.send("/v1/me/charges", body, **kwargs)

    def admin(self, body, **kwargs):
        return self.send("/v1/admin/users/%s/credits" % self.user_id, body,
                         token=self.service.admin_token, **kwargs)

    def test_api_errors_for_bad_bodies(self):
        deep = b"[" * 20000 + b"]" * 20000
        cases = [
            ("charge text/plain", lambda: self.charges(b'{"amount": 1}', content_type="text/plain"),
             415, {"UNSUPPORTED_MEDIA_TYPE"}),
            ("admin no content type", lambda: self.admin(b'{"amount": 1, "reason": "r"}', content_type=None),
             415, {"UNSUPPORTED_MEDIA_TYPE"}),
            ("charge too large", lambda: self.charges(b'{"amount": 1}' + b" " * body_bytes_max),
             413, {"PAYLOAD_TOO_LARGE"}),
            ("admin too large", lambda: self.admin(b"[" + b"1," * (body_bytes_max // 2) + b"1]"),
             413, {"PAYLOAD_TOO_LARGE"}),
            ("charge truncated json", lambda: self.charges(b'{"amount": 1'), 400, {"MALFORMED_JSON"}),
            ("admin truncated json", lambda: self.admin(b'{"amount": 1, "reason": '), 400, {"MALFORMED_JSON"}),
            ("charge invalid utf-8", lambda: self.charges(b'{"amount": 1, "description": "\xc3\x28"}'),
             400, {"MALFORMED_JSON"}),
            ("charge nested 20000 deep", lambda: self.charges(deep), None, None),
            ("charge huge exponent", lambda: self.charges(b'{"amount": 1e400}'), None, None),
            ("charge json array", lambda: self.charges(b"[1]"), None, None),
            ("charge json null", lambda: self.charges(b"null"), None, None),
            ("charge json string", lambda: self.charges(b'"amount"'), None, None),
            ("charge nul byte", lambda: self.charges(b'{"amount": 1\x00}'), 400, {"MALFORMED_JSON"}),
            ("charge wrong types", lambda: self.charges(b'{"amount": "1", "description": []}'),
             422, {"VALIDATION_FAILED"}),
            ("admin wrong types", lambda: self.admin(b'{"amount": 1.25, "reason": {"a": 1}}'),
             422, {"VALIDATION_FAILED"}),
            ("admin zero", lambda: self.admin(b'{"amount": 0, "reason": "r"}'), 422, {"VALIDATION_FAILED"}),
            ("charge no key", lambda: self.charges(b'{"amount": 1}', key=False), 400, {"IDEMPOTENCY_KEY_REQUIRED"}),
            ("charge forged token", lambda: self.charges(b'{"amount": 1}', token=harness.make_jwt(
                harness.access_claims(self.user_id), "not-the-secret")), 401, None),
        ]
        for name, send, status, codes in cases:
            with self.subTest(case=name):
                response = send()
                if status is None:
                    # Not pinned by API.md beyond "a client error".
                    self.assertIn(response.status, (400, 413, 422), response)
                    self.assertProblem(response, response.status)
                else:
                    self.assertProblem(response, status, codes=codes)

    def test_bad_paths_and_ids(self):
        client = Client(self.service.port)
        try:
            for path in ("/v1/admin/users/%s/credits" % ("1" * 36), "/v1/admin/users/%20/credits",
                         "/v1/admin/users/" + "a" * 3000 + "/credits"):
                with self.subTest(path=path[:60]):
                    response = client.post(path, json_body={"amount": 1, "reason": "r"},
                                           token=self.service.admin_token,
                                           headers={"Idempotency-Key": uuid.uuid4().hex})
                    self.assertIn(response.status, (400, 404, 414), response)
            for path in ("/v1/me/balance%zz", "/v1/me/ledger?limit=%ff", "/v1/me/ledger?limit=10&limit=abc"):
                with self.subTest(path=path):
                    response = client.get(path, token=self.token)
                    self.assertGreaterEqual(response.status, 200, response)
                    self.assertLess(response.status, 500, response)
        finally:
            client.close()

    def test_broken_http_is_refused_without_harm(self):
        token = self.token.encode()
        declared_large = (b"POST /v1/me/charges HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + token +
                          b"\r\nContent-Type: application/json\r\nIdempotency-Key: big\r\n"
                          b"Content-Length: 1000000\r\n\r\n{\"amount\": 1")
        chunk = b"{" + b" " * 40000
        chunked_large = (b"POST /v1/me/charges HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + token +
                         b"\r\nContent-Type: application/json\r\nIdempotency-Key: chunky\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n" +
                         (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 2 + b"0\r\n\r\n")
        cases = [
            ("garbage request line", b"GARBAGE\r\n\r\n", {400}),
            ("binary noise", bytes(range(256)) * 4, {400}),
            ("bad content-length", b"POST /v1/me/charges HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
             {400}),
            ("negative content-length", b"POST /v1/me/charges HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
             {400}),
            ("headers too large", b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n",
             {400, 431}),
            ("declared body over the limit", declared_large, {413}),
            ("chunked body over the limit", chunked_large, {413}),
            ("bad chunk size", b"POST /v1/me/charges HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " + token +
             b"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
             {400}),
            ("http/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", {400, 505}),
        ]
        for name, data, statuses in cases:
            with self.subTest(case=name):
                raw, closed = raw_exchange(self.service.port, data, read_timeout_s=5)
                status = status_of(raw)
                # An answer must be the right error; closing without one is also acceptable.
                if status is None:
                    self.assertTrue(closed, "no answer and no close within 5 s: %r" % raw[:200])
                else:
                    self.assertIn(status, statuses, raw[:300])

    # --- Request smuggling (RFC 9112 6.1, 6.3) and ambiguous input -------------

    def raw_responses(self, data):
        """Sends raw bytes; returns (parsed responses, closed by the server).
        Each response is (status, lower-cased headers dict, body bytes)."""
        raw, closed = raw_exchange(self.service.port, data, read_timeout_s=5)
        responses = []
        while raw:
            head, sep, rest = raw.partition(b"\r\n\r\n")
            self.assertTrue(sep, "a truncated response: %r" % raw[:300])
            lines = head.decode("latin-1").split("\r\n")
            self.assertRegex(lines[0], r"^HTTP/1\.[01] \d{3} ", raw[:300])
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            responses.append((int(lines[0].split()[1]), headers, rest[:length]))
            raw = rest[length:]
        return responses, closed

    def assertRefusedAndClosed(self, data, status, code):
        """Exactly one problem+json answer with `status` and `code`, marked
        Connection: close, and the connection closed: nothing after the bad
        request was parsed."""
        responses, closed = self.raw_responses(data)
        self.assertEqual(len(responses), 1, "expected one answer, got %r" % responses)
        got_status, headers, body = responses[0]
        self.assertEqual(got_status, status, responses)
        self.assertEqual(headers.get("content-type"), "application/problem+json", responses)
        self.assertEqual(json.loads(body)["code"], code, responses)
        self.assertEqual(headers.get("connection", "").lower(), "close", responses)
        self.assertTrue(closed, "the server kept the connection open")

    def charge_head(self, extra):
        return (b"POST /v1/me/charges HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer " +
                self.token.encode() + b"\r\nContent-Type: application/json\r\n"
                b"Idempotency-Key: " + uuid.uuid4().hex.encode() + b"\r\n" + extra + b"\r\n")

    def test_transfer_codings_other_than_final_chunked_are_refused_and_close(self):
        smuggled = b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"
        charge = b'{"amount": 1}'
        length = b"Content-Length: %d\r\n" % len(charge)
        chunked_charge = b"%x\r\n" % len(charge) + charge + b"\r\n0\r\n\r\n"
        cases = [
            # The body would otherwise be parsed as a second request.
            ("gzip, no length", b"Transfer-Encoding: gzip\r\n", smuggled, 400),
            ("xchunked, no length", b"Transfer-Encoding: xchunked\r\n", smuggled, 400),
            ("chunked not last", b"Transfer-Encoding: chunked, identity\r\n", chunked_charge + smuggled, 400),
            ("chunked twice", b"Transfer-Encoding: chunked, chunked\r\n", chunked_charge + smuggled, 400),
            ("empty coding", b"Transfer-Encoding: \r\n", charge + smuggled, 400),
            # Framed by Content-Length today: the charge would go through.
            ("identity + length", b"Transfer-Encoding: identity\r\n" + length, charge + smuggled, 400),
            ("xchunked + length", b"Transfer-Encoding: xchunked\r\n" + length, charge + smuggled, 400),
            ("chunked, identity + length", b"Transfer-Encoding: chunked, identity\r\n" + length,
             charge + smuggled, 400),
            ("length + chunked", length + b"Transfer-Encoding: chunked\r\n", chunked_charge + smuggled, 400),
            ("chunked + length", b"Transfer-Encoding: chunked\r\n" + length, chunked_charge + smuggled, 400),
            # A coding we do not implement before the final chunked.
            ("gzip, chunked", b"Transfer-Encoding: gzip, chunked\r\n", chunked_charge + smuggled, 501),
            ("gzip then chunked fields", b"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
             chunked_charge + smuggled, 501),
        ]
        for name, extra, body, status in cases:
            with self.subTest(case=name):
                self.assertRefusedAndClosed(self.charge_head(extra) + body, status,
                                            "NOT_IMPLEMENTED" if status == 501 else "BAD_REQUEST")

    def test_plain_chunked_still_works_and_keeps_the_connection(self):
        charge = b'{"amount": 1}'
        data = (self.charge_head(b"Transfer-Encoding: chunked\r\n") +
                b"%x\r\n" % len(charge) + charge + b"\r\n0\r\n\r\n" +
                b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        responses, closed = self.raw_responses(data)
        self.assertEqual([r[0] for r in responses], [201, 200], responses)
        self.before = (balance(self.client, self.token), ledger(self.client, self.token))

    def test_host_must_appear_exactly_once(self):
        for name, head in [("no host", b"GET /healthz HTTP/1.1\r\n"),
                           ("two hosts", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n")]:
            with self.subTest(case=name):
                responses, _ = self.raw_responses(head + b"Connection: close\r\n\r\n")
                self.assertEqual(len(responses), 1, responses)
                self.assertEqual(responses[0][0], 400, responses)
                self.assertEqual(json.loads(responses[0][2])["code"], "BAD_REQUEST", responses)
        # HTTP/1.0 has no Host requirement.
        responses, _ = self.raw_responses(b"GET /healthz HTTP/1.0\r\n\r\n")
        self.assertEqual([r[0] for r in responses], [200], responses)

    def test_unknown_methods_are_501(self):
        for method, path in [("FOO", "/healthz"), ("BREW", "/v1/me/balance"), ("PROPFIND", "/nowhere"),
                             ("FOO", "/nowhere")]:
            with self.subTest(method=method, path=path):
                response = harness.fetch(self.service.port, method, path, token=self.token)
                self.assertProblem(response, 501, "NOT_IMPLEMENTED")
        # A method we know but a path does not allow stays 405.
        response = harness.fetch(self.service.port, "PUT", "/healthz")
        self.assertProblem(response, 405, "METHOD_NOT_ALLOWED")

    def test_repeated_authorization_key_or_content_type_is_400(self):
        bearer = b"Authorization: Bearer " + self.token.encode() + b"\r\n"
        charge = b'{"amount": 1}'
        for name, fields in [
                ("two authorizations", bearer + bearer + b"Idempotency-Key: k1\r\nContent-Type: application/json\r\n"),
                ("two keys", bearer + b"Idempotency-Key: k2\r\nIdempotency-Key: k3\r\n"
                             b"Content-Type: application/json\r\n"),
                ("two content types", bearer + b"Idempotency-Key: k4\r\nContent-Type: application/json\r\n"
                                      b"Content-Type: application/json\r\n")]:
            with self.subTest(case=name):
                data = (b"POST /v1/me/charges HTTP/1.1\r\nHost: t\r\n" + fields +
                        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(charge) + charge)
                responses, _ = self.raw_responses(data)
                self.assertEqual(len(responses), 1, responses)
                self.assertEqual(responses[0][0], 400, responses)
                self.assertEqual(json.loads(responses[0][2])["code"], "BAD_REQUEST", responses)

    def test_duplicate_json_keys_are_malformed_and_charge_nothing(self):
        for body in (b'{"amount": 1, "amount": 1000000}', b'{"amount": 1000000, "amount": 1}',
                     b'{"amount": 1, "description": "a", "description": "b"}',
                     b'{"amount": 1, "description": "x", "\\u0061mount": 2}'):
            with self.subTest(body=body):
                self.assertProblem(self.charges(body), 400, "MALFORMED_JSON")
        self.assertProblem(self.admin(b'{"amount": 5, "reason": "r", "amount": 7}'), 400, "MALFORMED_JSON")
        # The same key in two different objects is fine (nested objects are their own scope).
        response = self.charges(b'{"amount": 100, "meta": {"amount": 1}}')
        self.assertNotEqual(response.status, 400, response)

    def test_out_of_range_numbers_are_422_naming_the_field(self):
        for body in (b'{"amount": 1e400}', b'{"amount": ' + b"9" * 5000 + b"}",
                     b'{"amount": -' + b"9" * 5000 + b"}"):
            with self.subTest(body=body[:40]):
                self.assertValidationFields(self.charges(body), ["amount"])
        self.assertValidationFields(self.admin(b'{"reason": "r", "amount": 1e999}'), ["amount"])

    def test_unbalanced_quoted_idempotency_key_is_400(self):
        for key in ('"abc', 'abc"', '"'):
            with self.subTest(key=key):
                client = Client(self.service.port)
                try:
                    response = client.post("/v1/me/charges", json_body={"amount": 1}, token=self.token,
                                           headers={"Idempotency-Key": key})
                finally:
                    client.close()
                self.assertProblem(response, 400, "INVALID_IDEMPOTENCY_KEY")


if __name__ == "__main__":
    unittest.main()
