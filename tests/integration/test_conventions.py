"""API.md "Conventions" and "Ops": routing, media types, sizes, problem+json,
request ids, CORS, keep-alive, time-outs, health, readiness, metrics, and the
configuration errors of the binary itself."""

import json
import os
import socket
import subprocess
import time
import unittest
import uuid

import harness
from harness import Client, ServiceTestCase, charge, raw_exchange, status_of

body_bytes_max = 64 * 1024

ALLOWED_ORIGIN = "https://app.example.com"
SECOND_ORIGIN = "https://admin.example.com"
CORS_ALLOW_HEADERS = {"content-type", "authorization", "x-request-id", "x-tenant-id", "idempotency-key"}


class ConventionsTest(ServiceTestCase):
    # The space after the comma checks that the origin list is trimmed.
    service_env = {"TALLY_CORS_ORIGINS": ALLOWED_ORIGIN + ", " + SECOND_ORIGIN}

    # Ops ---------------------------------------------------------------------

    def test_healthz_is_ok(self):
        response = self.client.get("/healthz")
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"status": "ok"})
        self.assertTrue((response.header("Content-Type") or "").startswith("application/json"), response)

    def test_readyz_is_ready_with_a_reachable_store(self):
        response = self.client.get("/readyz")
        self.assertEqual(response.status, 200, response)
        self.assertIsInstance(response.json(), dict)

    def test_metrics_are_prometheus_text_with_request_counts(self):
        user_id, token = self.service.funded_user(10)
        self.assertEqual(charge(self.client, token, 1).status, 201)
        self.client.get("/v1/me/balance", token=token)
        response = self.client.get("/metrics")
        self.assertEqual(response.status, 200, response)
        self.assertTrue((response.header("Content-Type") or "").startswith("text/plain"), response)
        text = response.body.decode()
        self.assertIn("# TYPE tally_http_requests_total counter", text)
        request_lines = [line for line in text.splitlines() if line.startswith("tally_http_requests_total{")]
        self.assertTrue(any('"201"' in line for line in request_lines), request_lines)
        self.assertTrue(any('"200"' in line for line in request_lines), request_lines)
        for name in ("tally_http_request_duration_seconds_bucket", "tally_persistence_backlog_records"):
            self.assertIn(name, text)

    # Routing -----------------------------------------------------------------

    def test_unknown_path_is_404_not_found(self):
        for path in ("/v1/nothing-here", "/", "/v1/me/balance/extra", "/v2/me/balance"):
            with self.subTest(path=path):
                self.assertProblem(self.client.get(path), 404, "NOT_FOUND")

    def test_wrong_method_is_405_with_allow(self):
        user_id, token = self.service.funded_user(0)
        admin = self.service.admin_token
        cases = [
            ("DELETE", "/v1/me/balance", token, "GET"),
            ("POST", "/v1/me/balance", token, "GET"),
            ("PUT", "/v1/me/ledger", token, "GET"),
            ("GET", "/v1/me/charges", token, "POST"),
            ("GET", "/v1/admin/users/%s/credits" % user_id, admin, "POST"),
            ("POST", "/healthz", None, "GET"),
            ("DELETE", "/readyz", None, "GET"),
            ("POST", "/metrics", None, "GET"),
        ]
        for method, path, bearer, allowed in cases:
            with self.subTest(method=method, path=path):
                headers = {"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex}
                response = self.client.request(method, path, body=b"{}", headers=headers, token=bearer)
                self.assertProblem(response, 405, "METHOD_NOT_ALLOWED")
                allow = {m.strip().upper() for m in (response.header("Allow") or "").split(",")}
                self.assertIn(allowed, allow, response)
                self.assertNotIn(method, allow, response)

    # Bodies --------------------------------------------------------------------

    def test_body_needs_json_content_type_else_415(self):
        user_id, token = self.service.funded_user(10)
        for content_type in ("text/plain", None, "application/x-www-form-urlencoded", "application/jsonx"):
            with self.subTest(content_type=content_type):
                headers = {"Idempotency-Key": uuid.uuid4().hex}
                if content_type:
                    headers["Content-Type"] = content_type
                response = self.client.request("POST", "/v1/me/charges", body=b'{"amount": 1}',
                                               headers=headers, token=token)
                self.assertProblem(response, 415, "UNSUPPORTED_MEDIA_TYPE")
        self.assertEqual(harness.balance(self.client, token)["available"], 10)

    def test_json_content_type_with_charset_is_accepted(self):
        user_id, token = self.service.funded_user(10)
        response = self.client.request("POST", "/v1/me/charges", body=b'{"amount": 1}', token=token,
                                       headers={"Content-Type": "application/json; charset=utf-8",
                                                "Idempotency-Key": uuid.uuid4().hex})
        self.assertEqual(response.status, 201, response)

    def test_body_over_64_kib_is_413_and_exactly_64_kib_is_accepted(self):
        user_id, token = self.service.funded_user(10)
        # JSON whitespace pads the body, so only its size can make it fail.
        document = b'{"amount": 1}'
        exact = document + b" " * (body_bytes_max - len(document))
        over = document + b" " * (body_bytes_max + 1 - len(document))
        self.assertEqual(len(exact), body_bytes_max)
        client = Client(self.service.port)
        try:
            response = client.request("POST", "/v1/me/charges", body=over, token=token,
                                      headers={"Content-Type": "application/json",
                                               "Idempotency-Key": uuid.uuid4().hex})
        finally:
            client.close()
        self.assertProblem(response, 413, "PAYLOAD_TOO_LARGE")
        self.assertEqual(harness.balance(self.client, token)["available"], 10)

        response = harness.fetch(
            self.service.port, "POST", "/v1/me/charges", body=exact, token=token,
            headers={"Content-Type": "application/json", "Idempotency-Key": uuid.uuid4().hex})
        self.assertEqual(response.status, 201, response)
        self.assertEqual(harness.balance(self.client, token)["available"], 9)

    def test_unparseable_json_is_400_malformed_json(self):
        user_id, token = self.service.funded_user(10)
        for body in (b'{"amount": ', b"", b"{amount: 1}", b'{"amount": 1} trailing', b"\xff\xfe"):
            with self.subTest(body=body):
                response = self.client.request("POST", "/v1/me/charges", body=body, token=token,
                                               headers={"Content-Type": "application/json",
                                                        "Idempotency-Key": uuid.uuid4().hex})
                self.assertProblem(response, 400, "MALFORMED_JSON")
        self.assertEqual(harness.balance(self.client, token)["available"], 10)

    def test_path_id_that_is_not_a_uuid_is_400_invalid_id(self):
        for user_id in ("not-a-uuid", "12345", "0000000-0000-0000-0000-000000000000",
                        "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"):
            with self.subTest(user_id=user_id):
                response = self.client.post("/v1/admin/users/%s/credits" % user_id,
                                            json_body={"amount": 5, "reason": "x"},
                                            token=self.service.admin_token,
                                            headers={"Idempotency-Key": uuid.uuid4().hex})
                self.assertProblem(response, 400, "INVALID_ID")

    # Request ids ---------------------------------------------------------------

    def test_request_id_is_echoed_up_to_128_chars(self):
        for request_id in ("abc-123", "r" * 128, "Printable.ASCII_~!#"):
            with self.subTest(request_id=request_id):
                response = self.client.get("/v1/nope", headers={"X-Request-ID": request_id})
                self.assertEqual(response.header("X-Request-ID"), request_id, response)
                self.assertEqual(self.assertProblem(response, 404)["request_id"], request_id)
                ok = self.client.get("/healthz", headers={"X-Request-ID": request_id})
                self.assertEqual(ok.header("X-Request-ID"), request_id, ok)

    def test_request_id_is_generated_when_missing_or_unacceptable(self):
        first = self.client.get("/healthz")
        second = self.client.get("/healthz")
        self.assertTrue(first.header("X-Request-ID"), first)
        self.assertTrue(second.header("X-Request-ID"), second)
        self.assertNotEqual(first.header("X-Request-ID"), second.header("X-Request-ID"))
        too_long = "r" * 129
        response = self.client.get("/v1/nope", headers={"X-Request-ID": too_long})
        generated = response.header("X-Request-ID")
        self.assertTrue(generated, response)
        self.assertNotEqual(generated, too_long)
        self.assertEqual(self.assertProblem(response, 404)["request_id"], generated)
        # A control character is not printable ASCII (sent raw: http.client refuses it).
        raw, _ = raw_exchange(self.service.port,
                              b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Request-ID: ab\x01cd\r\n"
                              b"Connection: close\r\n\r\n")
        self.assertIn(status_of(raw), (200, 400), raw)
        self.assertNotIn(b"ab\x01cd", raw)

    # CORS ------------------------------------------------------------------------

    def preflight(self, origin, path="/v1/me/charges", method="POST"):
        return self.client.request("OPTIONS", path, headers={
            "Origin": origin, "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type, authorization, idempotency-key"})

    def test_cors_preflight_from_an_allowed_origin(self):
        for origin in (ALLOWED_ORIGIN, SECOND_ORIGIN):
            with self.subTest(origin=origin):
                response = self.preflight(origin)
                self.assertEqual(response.status, 204, response)
                self.assertEqual(response.header("Access-Control-Allow-Origin"), origin, response)
                methods = {m.strip().upper()
                           for m in (response.header("Access-Control-Allow-Methods") or "").split(",")}
                self.assertIn("POST", methods, response)
                headers = {h.strip().lower()
                           for h in (response.header("Access-Control-Allow-Headers") or "").split(",")}
                self.assertEqual(headers, CORS_ALLOW_HEADERS, response)
                self.assertEqual(response.header("Access-Control-Max-Age"), "600", response)
        response = self.preflight(ALLOWED_ORIGIN, path="/v1/me/balance", method="GET")
        self.assertEqual(response.status, 204, response)
        self.assertEqual(response.header("Access-Control-Allow-Origin"), ALLOWED_ORIGIN, response)

    def test_cors_disallowed_origin_gets_no_cors_headers(self):
        for origin in ("https://evil.example.com", "https://app.example.com.evil.net", "null",
                       "http://app.example.com"):
            with self.subTest(origin=origin):
                response = self.preflight(origin)
                self.assertLess(response.status, 500, response)
                cors = [name for name, _ in response.headers if name.lower().startswith("access-control-")]
                self.assertEqual(cors, [], response)

    def test_cors_actual_request_from_allowed_origin_names_that_origin(self):
        response = self.client.get("/healthz", headers={"Origin": ALLOWED_ORIGIN})
        self.assertEqual(response.status, 200)
        self.assertEqual(response.header("Access-Control-Allow-Origin"), ALLOWED_ORIGIN, response)
        response = self.client.get("/healthz", headers={"Origin": "https://evil.example.com"})
        self.assertIsNone(response.header("Access-Control-Allow-Origin"), response)

    # Connections -------------------------------------------------------------------

    def test_keep_alive_serves_many_requests_on_one_connection(self):
        user_id, token = self.service.funded_user(5)
        client = Client(self.service.port)
        try:
            statuses = [
                client.get("/healthz").status,
                client.get("/v1/me/balance", token=token).status,
                client.get("/v1/nowhere").status,
                client.get("/v1/me/balance").status,
                charge(client, token, 1).status,
                client.get("/v1/me/ledger", token=token).status,
                client.get("/readyz").status,
            ]
            self.assertEqual(statuses, [200, 200, 404, 401, 201, 200, 200])
            self.assertEqual(client.connections_opened, 1)
        finally:
            client.close()


class NoCorsConfiguredTest(ServiceTestCase):
    """Without TALLY_CORS_ORIGINS no origin gets CORS headers."""

    def test_preflight_without_configured_origins_has_no_cors_headers(self):
        response = self.client.request("OPTIONS", "/v1/me/charges", headers={
            "Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"})
        self.assertLess(response.status, 500, response)
        cors = [name for name, _ in response.headers if name.lower().startswith("access-control-")]
        self.assertEqual(cors, [], response)


class SlowClientTest(ServiceTestCase):
    """A request must arrive within TALLY_READ_TIMEOUT_MS; an idle keep-alive
    connection closes after TALLY_IDLE_TIMEOUT_MS; slow clients never stall others."""

    read_timeout_s = 0.5
    idle_timeout_s = 1.5
    service_env = {"TALLY_READ_TIMEOUT_MS": str(int(read_timeout_s * 1000)),
                   "TALLY_IDLE_TIMEOUT_MS": str(int(idle_timeout_s * 1000))}

    def test_incomplete_request_is_closed_after_the_read_timeout(self):
        started = time.monotonic()
        raw, closed = raw_exchange(self.service.port, b"GET /healthz HTTP/1.1\r\nHost: t\r\n",
                                   read_timeout_s=6)
        elapsed = time.monotonic() - started
        self.assertTrue(closed, "connection still open after 6 s")
        self.assertGreaterEqual(elapsed, self.read_timeout_s * 0.6)
        self.assertLess(elapsed, 5)
        self.assertIn(status_of(raw), (None, 408), raw)

    def test_request_dribbled_byte_by_byte_is_cut_off(self):
        # Each byte arrives in time, the whole request never does.
        sock = socket.create_connection(("127.0.0.1", self.service.port), timeout=5)
        started = time.monotonic()
        closed = False
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")
            while time.monotonic() - started < 6:
                try:
                    sock.sendall(b"X-Slow: a\r\n")
                except OSError:
                    closed = True
                    break
                sock.settimeout(0.1)
                try:
                    data = sock.recv(4096)
                    if not data or status_of(data) == 408:
                        closed = True
                        break
                except socket.timeout:
                    pass
                except OSError:
                    closed = True
                    break
        finally:
            sock.close()
        self.assertTrue(closed, "a dribbling client kept its connection for 6 s")
        self.assertLess(time.monotonic() - started, 5)

    def test_slow_clients_do_not_stall_others(self):
        slow = [socket.create_connection(("127.0.0.1", self.service.port), timeout=5) for _ in range(20)]
        try:
            for sock in slow:
                sock.sendall(b"POST /v1/me/charges HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n")
            started = time.monotonic()
            response = harness.fetch(self.service.port, "GET", "/healthz")
            self.assertEqual(response.status, 200)
            self.assertLess(time.monotonic() - started, 3)
        finally:
            for sock in slow:
                sock.close()

    def test_idle_keep_alive_connection_is_closed(self):
        sock = socket.create_connection(("127.0.0.1", self.service.port), timeout=5)
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            sock.settimeout(5)
            first = sock.recv(65536)
            self.assertEqual(status_of(first), 200, first)
            started = time.monotonic()
            rest, closed = harness.read_until_close(sock, read_timeout_s=self.idle_timeout_s + 4)
            self.assertTrue(closed, "idle connection open after %.1f s" % (time.monotonic() - started))
            self.assertLess(time.monotonic() - started, self.idle_timeout_s + 3)
        finally:
            sock.close()


class ConfigurationTest(unittest.TestCase):
    """Bad configuration: a clear message on stderr and exit code 2."""

    def setUp(self):
        harness.require_store()
        if not os.path.exists(harness.BINARY):
            self.fail("service binary %s does not exist" % harness.BINARY)
        self.service = harness.Service()

    def tearDown(self):
        self.service.cleanup()

    def serve(self, **overrides):
        env = self.service.environment()
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        return subprocess.run([harness.BINARY, "serve"], env=env, capture_output=True, text=True,
                              timeout=20, stdin=subprocess.DEVNULL, cwd=self.service.workdir)

    def test_bad_settings_exit_2_with_a_message(self):
        cases = [
            {"TALLY_JWT_SECRET": None, "TALLY_DEV": None},
            {"TALLY_ACK": "sometimes"},
            {"TALLY_HTTP_PORT": "not-a-port"},
            {"TALLY_HTTP_PORT": "70000"},
            {"TALLY_LOG_LEVEL": "loud"},
            {"TALLY_READ_TIMEOUT_MS": "0"},
        ]
        for overrides in cases:
            with self.subTest(overrides=overrides):
                done = self.serve(**overrides)
                self.assertEqual(done.returncode, 2, (done.stdout, done.stderr))
                self.assertTrue(done.stderr.strip(), "no message on stderr")

    def test_sigterm_while_idle_exits_0(self):
        self.service.start()
        self.assertEqual(self.service.stop(), 0, self.service.log_tail())
        records = self.service.log_records()
        self.assertTrue(records, "no JSON log lines")
        for record in records:
            for field in ("ts", "level", "msg"):
                self.assertIn(field, record, record)

    def test_sigint_exits_0(self):
        import signal
        self.service.start()
        self.assertEqual(self.service.stop(sig=signal.SIGINT), 0, self.service.log_tail())


if __name__ == "__main__":
    unittest.main()
