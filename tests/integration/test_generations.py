"""API.md "Generations" over real HTTP, against a fake provider that is a
real HTTP server in this process (it succeeds, fails, hangs or answers
slowly, by the generation's prompt).

Prompts the fake provider understands:
  "ok..."    200 {"result_url"} at once
  "fail..."  500
  "hang..."  answers 200 only after FakeProvider.hang_s (a late answer)
"""

import http.server
import json
import threading
import time
import unittest
import uuid

from harness import (ServiceTestCase, Service, UUID_RE, RFC3339_UTC_RE, balance, check_ledger_chain,
                     ledger, require_store, run_concurrently, wait_for)


class FakeProvider:
    """A real HTTP/1.1 server (keep-alive) on 127.0.0.1; records every job."""

    def __init__(self, hang_s=5.0):
        self.hang_s = hang_s
        self.jobs = []
        self.connections = []   # the client's (host, port) of each job
        self.lock = threading.Lock()
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                job = json.loads(body)
                with provider.lock:
                    provider.jobs.append(job)
                    provider.connections.append(self.client_address)
                prompt = job.get("prompt", "")
                if prompt.startswith("fail"):
                    return self.answer(500, {"error": "model exploded"})
                if prompt.startswith("hang"):
                    time.sleep(provider.hang_s)
                self.answer(200, {"result_url": "https://fake.example/" + job["id"]})

            def answer(self, status, document):
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on a hanging answer (its time-out)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d/generate" % self.server.server_address[1]

    def connections_used(self, job_ids):
        """Distinct client connections that carried these jobs."""
        with self.lock:
            return len({address for job, address in zip(self.jobs, self.connections) if job["id"] in job_ids})

    def job_ids(self):
        with self.lock:
            return [job["id"] for job in self.jobs]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


TERMINAL = ("completed", "failed", "cancelled")


class GenerationsCase(ServiceTestCase):
    """A service whose provider is a FakeProvider; `provider_env` adds settings."""

    provider_env = {}
    hang_s = 5.0

    @classmethod
    def setUpClass(cls):
        require_store()
        cls.provider = FakeProvider(hang_s=cls.hang_s)
        cls.service_env = dict(cls.provider_env, TALLY_PROVIDER_URL=cls.provider.url)
        try:
            super().setUpClass()
        except BaseException:
            cls.provider.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.provider.stop()

    def create(self, token, model="chat-small", prompt="ok", key=None, params=None, body_key=None, client=None):
        body = {"model_id": model, "prompt": prompt}
        if params is not None:
            body["params"] = params
        if body_key is not None:
            body["idempotency_key"] = body_key
        headers = {"Idempotency-Key": key} if key else {}
        return (client or self.client).post("/v1/generations", json_body=body, token=token, headers=headers)

    def get(self, token, generation_id):
        return self.client.get("/v1/generations/" + generation_id, token=token)

    def wait_status(self, token, generation_id, statuses=TERMINAL, timeout_s=20.0):
        def probe():
            response = self.get(token, generation_id)
            self.assertEqual(response.status, 200, response)
            body = response.json()
            return body if body["status"] in statuses else None
        found = wait_for(probe, timeout_s=timeout_s)
        self.assertTrue(found, "generation %s never reached %s" % (generation_id, statuses))
        return found

    def assertSettled(self, token):
        """balance == the ledger's sums, every *_after chains exactly."""
        current = balance(self.client, token)
        check_ledger_chain(self, ledger(self.client, token), current)
        return current


class GenerationLimitsTest(GenerationsCase):
    """Limits, idempotency, cancel, reads and the sweep's time-out."""

    provider_env = {
        "TALLY_GENERATION_TIMEOUT_MS": "3000",
        "TALLY_GENERATION_SWEEP_INTERVAL_MS": "200",
    }
    hang_s = 5.0

    def test_models_lists_the_default_catalog(self):
        response = self.client.get("/v1/models")
        self.assertEqual(response.status, 200, response)
        models = {m["id"]: m for m in response.json()["data"]}
        self.assertEqual({k: (m["type"], m["price"]) for k, m in models.items()},
                         {"nano-banana": ("image", 5), "veo-lite": ("video", 20), "chat-small": ("text", 1),
                          "doc-writer": ("document", 10)})
        self.assertEqual(models["doc-writer"]["params"]["target_pages"],
                         {"type": "integer", "min": 3, "max": 1000, "default": 50})

    def test_completion_captures_the_price(self):
        user, token = self.service.funded_user(100)
        response = self.create(token, model="doc-writer", prompt="ok please", params={"target_pages": 7})
        self.assertEqual(response.status, 202, response)
        body = response.json()
        self.assertEqual(list(body), ["id", "status", "model_id", "price", "created_at", "timeout_at",
                                      "available", "reserved"])
        self.assertRegex(body["id"], UUID_RE)
        self.assertEqual((body["status"], body["model_id"], body["price"]), ("pending", "doc-writer", 10))
        self.assertEqual((body["available"], body["reserved"]), (90, 10))
        self.assertRegex(body["created_at"], RFC3339_UTC_RE)
        done = self.wait_status(token, body["id"])
        self.assertEqual(done["status"], "completed", done)
        self.assertEqual(done["result_url"], "https://fake.example/" + body["id"])
        self.assertIsNone(done["error"])
        self.assertEqual(done["params"], {"target_pages": 7})
        self.assertEqual(done["prompt"], "ok please")
        self.assertIn(body["id"], self.provider.job_ids())
        current = self.assertSettled(token)
        self.assertEqual(current, {"available": 90, "reserved": 0})
        entries = [e for e in ledger(self.client, token) if e["reference"] == body["id"]]
        self.assertEqual(sorted((e["type"], e["amount"]) for e in entries), [("capture", 10), ("reserve", 10)])

    def test_validation_lists_every_bad_field(self):
        user, token = self.service.funded_user(100)
        response = self.client.post("/v1/generations", token=token, json_body={
            "model_id": "no-such-model", "prompt": "", "params": []})
        self.assertProblem(response, 422, "VALIDATION_FAILED")
        self.assertEqual(sorted(e["field"] for e in response.json()["errors"]), ["model_id", "params", "prompt"])
        response = self.create(token, model="doc-writer", prompt="x" * 4001,
                               params={"target_pages": 2, "color": 1})
        self.assertProblem(response, 422, "VALIDATION_FAILED")
        self.assertEqual(sorted(e["field"] for e in response.json()["errors"]),
                         ["params.color", "params.target_pages", "prompt"])
        for bad in ("50", 50.5, 1001, True):
            response = self.create(token, model="doc-writer", params={"target_pages": bad})
            self.assertProblem(response, 422, "VALIDATION_FAILED")
        response = self.create(token, key="a", body_key="b")
        self.assertProblem(response, 400, "INVALID_IDEMPOTENCY_KEY")
        self.assertEqual(balance(self.client, token), {"available": 100, "reserved": 0})

    def test_reads_are_owner_only(self):
        user, token = self.service.funded_user(10)
        other, other_token = self.service.funded_user(0)
        generation = self.create(token).json()["id"]
        self.assertEqual(self.get(token, generation).status, 200)
        self.assertProblem(self.get(other_token, generation), 404, "NOT_FOUND")
        self.assertProblem(self.get(token, str(uuid.uuid4())), 404, "NOT_FOUND")
        self.assertProblem(self.get(token, "not-a-uuid"), 400, "INVALID_ID")
        self.assertProblem(self.client.post("/v1/generations/%s/cancel" % generation, token=other_token), 404,
                           "NOT_FOUND")
        self.assertProblem(self.client.post("/v1/generations/nope/cancel", token=token), 400, "INVALID_ID")

    def test_sixth_active_is_429_cancel_releases_and_the_sweep_times_out_the_rest(self):
        user, token = self.service.funded_user(100)
        ids = []
        for i in range(5):
            response = self.create(token, model="nano-banana", prompt="hang %d" % i)
            self.assertEqual(response.status, 202, response)
            ids.append(response.json()["id"])
        response = self.create(token, model="nano-banana", prompt="hang 6")
        self.assertProblem(response, 429, "MAX_ACTIVE_GENERATIONS")
        self.assertEqual(balance(self.client, token), {"available": 75, "reserved": 25})
        active = self.client.get("/v1/generations?status=active", token=token).json()["data"]
        self.assertEqual(sorted(g["id"] for g in active), sorted(ids))

        cancelled = self.client.post("/v1/generations/%s/cancel" % ids[0], token=token)
        self.assertEqual(cancelled.status, 200, cancelled)
        self.assertEqual(cancelled.json()["status"], "cancelled")
        self.assertEqual(balance(self.client, token), {"available": 80, "reserved": 20})
        again = self.client.post("/v1/generations/%s/cancel" % ids[0], token=token)
        self.assertProblem(again, 409, "INVALID_STATE")

        # The provider hangs longer than timeout_at: the sweep fails and releases them.
        for generation in ids[1:]:
            done = self.wait_status(token, generation, timeout_s=15)
            self.assertEqual((done["status"], done["error"]), ("failed", "timeout"), done)
        self.assertEqual(self.assertSettled(token), {"available": 100, "reserved": 0})
        for generation in ids:
            entries = [e["type"] for e in ledger(self.client, token) if e["reference"] == generation]
            self.assertEqual(sorted(entries), ["release", "reserve"], generation)
        # The provider's answers arrive after the time-out and change nothing.
        late = wait_for(lambda: sum(1 for r in self.service.log_records()
                                    if r.get("msg") == "late provider answer ignored"
                                    and r.get("generation_id") in ids) >= 4, timeout_s=15)
        self.assertTrue(late, self.service.log_tail())
        self.assertEqual(self.assertSettled(token), {"available": 100, "reserved": 0})

    def test_twenty_concurrent_creates_with_one_key_make_one_generation(self):
        user, token = self.service.funded_user(100)
        key = "gen-" + uuid.uuid4().hex
        results = run_concurrently(
            [lambda c, i=i: self.create(token, model="veo-lite", prompt="ok", key=key if i % 2 else None,
                                        body_key=None if i % 2 else key, client=c) for i in range(20)],
            self.service.port)
        statuses = [r.status if not isinstance(r, Exception) else r for r in results]
        self.assertTrue(all(s in (202, 409) for s in statuses), statuses)
        created = {r.json()["id"] for r in results if r.status == 202}
        self.assertEqual(len(created), 1, statuses)
        generation = created.pop()
        self.wait_status(token, generation)
        replay = self.create(token, model="veo-lite", prompt="ok", key=key)
        self.assertEqual(replay.status, 202, replay)
        self.assertEqual(replay.header("Idempotent-Replayed"), "true")
        self.assertEqual(replay.json()["id"], generation)
        self.assertProblem(self.create(token, model="veo-lite", prompt="ok, other", key=key), 422,
                           "IDEMPOTENCY_KEY_REUSED")
        self.assertEqual(self.service.count("generations WHERE user_id = '%s'" % user), 1)
        self.assertEqual(self.assertSettled(token), {"available": 80, "reserved": 0})

    def test_eleventh_create_in_a_minute_is_rate_limited(self):
        user, token = self.service.funded_user(100)
        ids = []
        for i in range(10):
            response = self.create(token, prompt="ok %d" % i)
            self.assertEqual(response.status, 202, response)
            ids.append(response.json()["id"])
            self.wait_status(token, ids[-1])
        # One after the other, the jobs share the client's keep-alive connections.
        self.assertLess(self.provider.connections_used(ids), 5)
        response = self.create(token, prompt="ok 11")
        self.assertProblem(response, 429, "RATE_LIMITED")
        self.assertGreaterEqual(int(response.header("Retry-After")), 1)
        self.assertEqual(self.assertSettled(token), {"available": 90, "reserved": 0})

    def test_list_filters_by_status_and_pages(self):
        user, token = self.service.funded_user(100)
        ids = []
        for prompt in ("ok 1", "ok 2", "ok 3"):
            response = self.create(token, prompt=prompt)
            ids.append(response.json()["id"])
            self.wait_status(token, ids[-1])
        cancel_me = self.create(token, prompt="hang").json()["id"]
        self.client.post("/v1/generations/%s/cancel" % cancel_me, token=token)
        seen, cursor = [], None
        for _ in range(5):
            path = "/v1/generations?limit=2" + ("&cursor=" + cursor if cursor else "")
            page = self.client.get(path, token=token).json()
            seen.extend(g["id"] for g in page["data"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        self.assertEqual(seen, [cancel_me] + ids[::-1])
        completed = self.client.get("/v1/generations?status=completed", token=token).json()["data"]
        self.assertEqual([g["id"] for g in completed], ids[::-1])
        cancelled = self.client.get("/v1/generations?status=cancelled", token=token).json()["data"]
        self.assertEqual([g["id"] for g in cancelled], [cancel_me])
        self.assertEqual(self.client.get("/v1/generations?status=active", token=token).json()["data"], [])
        self.assertProblem(self.client.get("/v1/generations?status=done", token=token), 422, "VALIDATION_FAILED")
        self.assertProblem(self.client.get("/v1/generations?cursor=zz", token=token), 422, "VALIDATION_FAILED")


class ProviderBreakerTest(GenerationsCase):
    """Provider failures and time-outs, the breaker opening and its probe."""

    provider_env = {
        "TALLY_PROVIDER_REQUEST_TIMEOUT_MS": "1000",
        "TALLY_PROVIDER_BREAKER_FAILURES": "5",
        "TALLY_PROVIDER_BREAKER_OPEN_MS": "2000",
    }
    hang_s = 4.0

    def test_failures_open_the_breaker_then_one_probe_closes_it(self):
        user, token = self.service.funded_user(100)
        # A hanging provider: the client's time-out fails the job and releases it.
        hung = self.create(token, prompt="hang").json()["id"]
        done = self.wait_status(token, hung)
        self.assertEqual((done["status"], done["error"]), ("failed", "provider_timeout"), done)
        # Four more failures in a row (5 with the time-out) open the circuit.
        for i in range(4):
            response = self.create(token, prompt="fail %d" % i)
            self.assertEqual(response.status, 202, response)
            done = self.wait_status(token, response.json()["id"])
            self.assertEqual((done["status"], done["error"]), ("failed", "provider_status_500"), done)
        self.assertEqual(balance(self.client, token), {"available": 100, "reserved": 0})
        jobs_before = len(self.provider.job_ids())
        refused = self.create(token, prompt="ok")
        self.assertProblem(refused, 503, "PROVIDER_UNAVAILABLE")
        self.assertGreaterEqual(int(refused.header("Retry-After")), 1)
        self.assertEqual(balance(self.client, token), {"available": 100, "reserved": 0})
        self.assertEqual(len(self.provider.job_ids()), jobs_before)
        metrics = self.client.get("/metrics").body.decode()
        self.assertIn("tally_provider_breaker_state 1", metrics)
        # After the open period, one probe goes through; its success closes the circuit.
        time.sleep(2.2)
        probe = self.create(token, prompt="ok probe")
        self.assertEqual(probe.status, 202, probe)
        self.assertEqual(self.wait_status(token, probe.json()["id"])["status"], "completed")
        after = self.create(token, prompt="ok after")
        self.assertEqual(after.status, 202, after)
        self.wait_status(token, after.json()["id"])
        self.assertEqual(self.assertSettled(token), {"available": 98, "reserved": 0})
        self.assertIn("tally_provider_breaker_state 0", self.client.get("/metrics").body.decode())


class CrashRecoveryTest(unittest.TestCase):
    """kill -9 with active generations: after the restart every one is failed
    as interrupted and released, before the user is served."""

    def test_kill_9_with_active_generations(self):
        require_store()
        provider = FakeProvider(hang_s=30.0)
        service = Service(env={"TALLY_PROVIDER_URL": provider.url, "TALLY_PROVIDER_CONCURRENT_MAX": "2"})
        try:
            service.start()
            client = service.client()
            user, token = service.funded_user(100)
            ids = []
            for i in range(4):
                response = client.post("/v1/generations", token=token,
                                       json_body={"model_id": "nano-banana", "prompt": "hang %d" % i})
                self.assertEqual(response.status, 202, response)
                ids.append(response.json()["id"])
            self.assertEqual(balance(client, token), {"available": 80, "reserved": 20})
            # At most 2 calls in flight: the other two wait in the client's queue.
            self.assertTrue(wait_for(lambda: len(provider.job_ids()) == 2, timeout_s=10), provider.job_ids())
            time.sleep(0.5)
            self.assertEqual(len(provider.job_ids()), 2)
            client.close()
            service.kill()
            service.start()
            client = service.client()
            # Served only after recovery: the first read already sees the releases.
            self.assertEqual(balance(client, token), {"available": 100, "reserved": 0})
            for generation in ids:
                body = client.get("/v1/generations/" + generation, token=token).json()
                self.assertEqual((body["status"], body["error"]), ("failed", "interrupted"), body)
            current = balance(client, token)
            check_ledger_chain(self, ledger(client, token), current)
            self.assertEqual(service.count("generations WHERE status IN ('pending', 'processing')"), 0)
            client.close()
            self.assertEqual(service.stop(), 0)
        finally:
            service.cleanup()
            provider.stop()


if __name__ == "__main__":
    unittest.main()
