"""The store goes away mid-run (Postgres variant only): mutations get 503
STORE_UNAVAILABLE or OVERLOADED with Retry-After, /readyz turns 503, the
process keeps serving /healthz; when Postgres is back, /readyz is 200 within a
bounded wait, every acknowledged charge is there and nothing is applied twice.

This test stops and restarts the shared test Postgres (TALLY_TEST_PG_CTL), so
ctest runs it alone (RUN_SERIAL)."""

import collections
import subprocess
import sys
import threading
import time
import unittest
import uuid

import harness
from harness import Client, Service, balance, charge, check_ledger_chain, ledger

# A short request deadline keeps each request during the outage short.
request_deadline_ms = 2000
outage_detected_s_max = 20.0     # store stopped -> /readyz 503
recovery_s_max = 40.0            # store started -> /readyz 200
unavailable_codes = {"STORE_UNAVAILABLE", "OVERLOADED"}


def pg_running():
    return subprocess.run([harness.PG_CTL, "status"], capture_output=True, timeout=30).returncode == 0


class StoreOutageTest(unittest.TestCase):

    def setUp(self):
        harness.require_store()
        if harness.STORE != "postgres":
            self.skipTest("the store outage is exercised on Postgres only")
        if not harness.PG_CTL:
            self.skipTest("TALLY_TEST_PG_CTL unset (scripts/test provides it)")
        self.service = Service(env={"TALLY_REQUEST_DEADLINE_MS": str(request_deadline_ms)})
        self.service.start()

    def tearDown(self):
        try:
            if not pg_running():
                harness.pg_ctl("start")
            code = self.service.stop()
            self.assertIn(code, (0, None), self.service.log_tail())
        finally:
            sys.stderr.write("---- service log tail\n%s\n" % self.service.log_tail(40))
            self.service.cleanup()

    def wait_for_readyz(self, status, timeout_s):
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            client = Client(self.service.port, timeout=5)
            try:
                last = client.get("/readyz")
                if last.status == status:
                    return last
            except OSError as error:
                last = error
            finally:
                client.close()
            time.sleep(0.2)
        self.fail("/readyz not %d within %.0f s (last: %r)" % (status, timeout_s, last))

    def test_postgres_stopped_and_started_mid_run(self):
        initial = 100000
        user_id, token = self.service.funded_user(initial)
        client = self.service.client()
        self.addCleanup(client.close)
        records = []   # key, amount, response (None = transport failure)

        def record_charge(c, amount):
            entry = {"key": "outage-" + uuid.uuid4().hex, "amount": amount, "response": None}
            records.append(entry)
            try:
                entry["response"] = charge(c, token, amount, key=entry["key"])
            except Exception:
                c.close()
            return entry["response"]

        for _ in range(5):
            self.assertEqual(record_charge(client, 2).status, 201)

        # Background load across the outage, on its own connections.
        stop = threading.Event()

        def load(worker):
            c = Client(self.service.port)
            while not stop.is_set():
                record_charge(c, 1 + worker)
                time.sleep(0.05)
            c.close()

        workers = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(4)]
        for worker in workers:
            worker.start()
        try:
            time.sleep(0.5)
            harness.pg_ctl("stop")
            outage_started = time.monotonic()

            # Mutations fail cleanly with 503 + Retry-After.
            unavailable = 0
            while unavailable < 3 and time.monotonic() - outage_started < outage_detected_s_max:
                response = record_charge(client, 3)
                self.assertIsNotNone(response, "transport failure during the outage")
                if response.status == 503:
                    body = self.assertProblem503(response)
                    self.assertIn(body["code"], unavailable_codes, response)
                    unavailable += 1
                else:
                    # Accepted before the store's loss was noticed: must be a real 201.
                    self.assertEqual(response.status, 201, response)
            self.assertEqual(unavailable, 3, "mutations did not get 503 while the store was down")
            grant_key = "outage-grant-" + uuid.uuid4().hex
            response = self.service.grant(user_id, 10, key=grant_key, client=client)
            self.assertEqual(response.status, 503, response)
            self.assertIn(self.assertProblem503(response)["code"], unavailable_codes)

            ready = self.wait_for_readyz(503, outage_detected_s_max)
            self.assertIn("checks", ready.json(), ready)
            self.assertEqual(client.get("/healthz").status, 200)

            harness.pg_ctl("start")
            self.wait_for_readyz(200, recovery_s_max)
        finally:
            stop.set()
            for worker in workers:
                worker.join(timeout=30)
        client.close()

        # Back to normal: new charges succeed (bounded wait for the writer).
        client = self.service.client()
        self.addCleanup(client.close)
        deadline = time.monotonic() + recovery_s_max
        while True:
            response = charge(client, token, 1, key="after-" + uuid.uuid4().hex)
            if response.status == 201 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(response.status, 201, response)
        records.append({"key": None, "amount": 1, "response": response})

        # Every 201 is in the ledger exactly once. (Reads retry on 503 here;
        # test_reads_work_as_soon_as_the_store_is_back pins that down.)
        entries = self.settled(lambda: ledger(client, token))
        charges = [e for e in entries if e["type"] == "charge"]
        counts = collections.Counter(e["reference"] for e in charges)
        self.assertEqual([ref for ref, n in counts.items() if n > 1], [])
        acked = [r for r in records if r["response"] is not None and r["response"].status == 201]
        for record in acked:
            self.assertIn(record["response"].json()["id"], counts, "acknowledged charge lost")
        check_ledger_chain(self, entries, self.settled(lambda: balance(client, token)))

        # A 503 does not say whether the change was applied later: a client
        # retries with the same key and then knows. The grant is applied once.
        response = self.service.grant(user_id, 10, key=grant_key, client=client)
        self.assertEqual(response.status, 200, response)
        response = self.service.grant(user_id, 10, key=grant_key, client=client)
        self.assertEqual((response.status, response.header("Idempotent-Replayed")), (200, "true"), response)
        initial += 10

        # Retrying every key (as a client would after 503) charges each once.
        replayed_ids = []
        for record in records:
            if record["key"] is None:
                replayed_ids.append(record["response"].json()["id"])
                continue
            response = harness.charge_settled(client, token, record["amount"], record["key"], recovery_s_max)
            self.assertEqual(response.status, 201, (record, response))
            replayed_ids.append(response.json()["id"])
            if record in acked:
                self.assertEqual(response.body, record["response"].body)
        self.assertEqual(len(set(replayed_ids)), len(records))
        entries = self.settled(lambda: ledger(client, token))
        charges = [e for e in entries if e["type"] == "charge"]
        self.assertEqual(sorted(e["reference"] for e in charges), sorted(replayed_ids))
        current = self.settled(lambda: balance(client, token))
        self.assertEqual(current["available"], initial - sum(r["amount"] for r in records))
        check_ledger_chain(self, entries, current)
        client.close()
        print("outage: %d charges, %d acknowledged before the retries" % (len(records), len(acked)))

    def test_reads_work_as_soon_as_the_store_is_back(self):
        """Once /readyz says 200 again, reads and writes succeed at the first
        attempt: stale store connections are replaced, not reported as 503."""
        user_id, token = self.service.funded_user(50)
        client = self.service.client()
        self.addCleanup(client.close)
        self.assertEqual(len(ledger(client, token)), 1)
        harness.pg_ctl("stop")
        harness.pg_ctl("start")
        self.wait_for_readyz(200, recovery_s_max)
        for attempt in range(4):
            response = client.get("/v1/me/ledger", token=token)
            self.assertEqual(response.status, 200, "ledger read %d after the restart: %r" % (attempt, response))
            response = client.get("/v1/me/balance", token=token)
            self.assertEqual(response.status, 200, "balance read %d after the restart: %r" % (attempt, response))
        response = charge(client, token, 5)
        self.assertEqual(response.status, 201, response)
        self.assertEqual(balance(client, token)["available"], 45)

    def settled(self, read):
        """A read retried while it fails with 503 (bounded), as a client would."""
        deadline = time.monotonic() + recovery_s_max
        while True:
            try:
                return read()
            except AssertionError as error:
                if "<503" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def assertProblem503(self, response):
        self.assertEqual(response.status, 503, response)
        self.assertEqual((response.header("Content-Type") or "").split(";")[0], "application/problem+json")
        retry_after = response.header("Retry-After")
        self.assertIsNotNone(retry_after, response)
        self.assertTrue(retry_after.isdigit() and int(retry_after) >= 1, response)
        body = response.json()
        self.assertEqual(body["status"], 503)
        self.assertEqual(body["request_id"], response.header("X-Request-ID"))
        return body


if __name__ == "__main__":
    unittest.main()
