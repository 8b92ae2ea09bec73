"""Payment webhooks (API.md "Payment webhooks", issue 12): signatures checked
before the body, exactly-once top-ups under concurrency, redelivery, a
second event for one payment object, kill -9 and the dedupe sweep, on the
real binary over real HTTP (SQLite and Postgres)."""

import hashlib
import hmac
import json
import os
import subprocess
import time
import uuid

from harness import (REPO, Service, ServiceTestCase, require_store, run_concurrently,
                     wait_for)

SECRET = "whsec_it_" + uuid.uuid4().hex
PATH = "/v1/webhooks/payments"
SEND_SCRIPT = os.path.join(REPO, "examples", "webhook", "send.sh")


def event_body(event_id, object_id, user_id, credits="100", event_type="checkout.session.completed",
               metadata=None):
    """The raw bytes of a provider event (compact JSON, as sent)."""
    if metadata is None:
        metadata = {"user_id": str(user_id), "credits": credits}
    event = {"id": event_id, "object": "event", "type": event_type,
             "data": {"object": {"id": object_id, "object": "checkout.session", "metadata": metadata}}}
    return json.dumps(event, separators=(",", ":")).encode()


def signature(body, secret=SECRET, at=None):
    """Stripe-Signature for `body`, computed here with Python's hmac."""
    at = int(time.time()) if at is None else at
    digest = hmac.new(secret.encode(), b"%d." % at + body, hashlib.sha256).hexdigest()
    return "t=%d,v1=%s" % (at, digest)


def deliver(client, body, header=None):
    headers = {"Content-Type": "application/json",
               "Stripe-Signature": header if header is not None else signature(body)}
    return client.request("POST", PATH, body=body, headers=headers)


def new_ids():
    suffix = uuid.uuid4().hex[:16]
    return "evt_" + suffix, "cs_" + suffix


class WebhookCase(ServiceTestCase):
    service_env = {"TALLY_WEBHOOK_SECRET": SECRET}

    def available(self, user_id):
        return int(self.service.query("SELECT available FROM users WHERE id = '%s'" % user_id)[0][0])

    def topups(self, object_id):
        return self.service.count("ledger_entries WHERE type = 'topup' AND reference = '%s'" % object_id)

    def event_record(self, event_id):
        return self.client.get("/v1/admin/webhooks/payments/" + event_id, token=self.service.admin_token)

    def assertStatus(self, response, status):
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"status": status}, response)


class TestWebhookDeliveries(WebhookCase):

    def test_first_delivery_processes_and_redelivery_is_duplicate(self):
        user = self.service.create_user()
        event_id, object_id = new_ids()
        body = event_body(event_id, object_id, user, credits="250")
        self.assertStatus(deliver(self.client, body), "processed")
        self.assertEqual(self.available(user), 250)
        self.assertStatus(deliver(self.client, body), "duplicate")
        self.assertEqual(self.available(user), 250)
        rows = self.service.query("SELECT type, amount, reference FROM ledger_entries WHERE user_id = '%s'" % user)
        self.assertEqual(rows, [("topup", "250", object_id)])
        record = self.event_record(event_id)
        self.assertEqual(record.status, 200, record)
        view = record.json()
        self.assertEqual(set(view), {"event_id", "status", "deliveries", "first_seen_at", "processed_at"})
        self.assertEqual((view["event_id"], view["status"], view["deliveries"]), (event_id, "processed", 2))
        self.assertTrue(view["processed_at"] >= view["first_seen_at"], view)

    def test_fifty_concurrent_deliveries_top_up_once(self):
        user = self.service.create_user()
        event_id, object_id = new_ids()
        body = event_body(event_id, object_id, user, credits="7")
        header = signature(body)
        results = run_concurrently([lambda c: deliver(c, body, header)] * 50, self.service.port)
        statuses = []
        for result in results:
            self.assertNotIsInstance(result, Exception)
            self.assertEqual(result.status, 200, result)
            statuses.append(result.json()["status"])
        self.assertEqual(statuses.count("processed"), 1, statuses)
        self.assertEqual(statuses.count("duplicate"), 49, statuses)
        self.assertEqual(self.available(user), 7)
        self.assertEqual(self.topups(object_id), 1)
        view = self.event_record(event_id).json()
        self.assertEqual((view["status"], view["deliveries"]), ("processed", 50))

    def test_two_event_ids_for_one_payment_object_top_up_once(self):
        user = self.service.create_user()
        first_event, object_id = new_ids()
        second_event = first_event + "_again"
        self.assertStatus(deliver(self.client, event_body(first_event, object_id, user)), "processed")
        second = event_body(second_event, object_id, user, event_type="payment_intent.succeeded")
        self.assertStatus(deliver(self.client, second), "duplicate")
        self.assertEqual(self.available(user), 100)
        self.assertEqual(self.topups(object_id), 1)
        self.assertEqual(self.event_record(second_event).json()["status"], "duplicate")

    def test_concurrent_event_ids_for_one_payment_object_top_up_once(self):
        user = self.service.create_user()
        _, object_id = new_ids()
        bodies = [event_body("evt_%d_%s" % (i, object_id), object_id, user) for i in range(6)]
        results = run_concurrently([lambda c, b=b: deliver(c, b) for b in bodies], self.service.port)
        statuses = sorted(r.json()["status"] for r in results)
        self.assertEqual(statuses, ["duplicate"] * 5 + ["processed"], results)
        self.assertEqual(self.available(user), 100)
        self.assertEqual(self.topups(object_id), 1)
        self.assertEqual(self.service.count("payments WHERE object_id = '%s'" % object_id), 1)

    def test_tampered_body_is_refused_and_nothing_recorded(self):
        user = self.service.create_user()
        event_id, object_id = new_ids()
        body = event_body(event_id, object_id, user)
        tampered = body.replace(b'"credits":"100"', b'"credits":"900"')
        response = deliver(self.client, tampered, signature(body))
        self.assertProblem(response, 400, "INVALID_SIGNATURE")
        self.assertEqual(self.available(user), 0)
        self.assertEqual(self.service.count("webhook_events WHERE event_id = '%s'" % event_id), 0)
        self.assertEqual(self.service.count("payments WHERE object_id = '%s'" % object_id), 0)
        self.assertProblem(self.event_record(event_id), 404, "NOT_FOUND")

    def test_bad_signature_headers_are_refused(self):
        user = self.service.create_user()
        event_id, object_id = new_ids()
        body = event_body(event_id, object_id, user)
        now = int(time.time())
        good = signature(body)
        for header in ["", "t=%d" % now, good.split(",")[1], "t=abc," + good.split(",")[1],
                       good[:-1], signature(body, secret="whsec_other"),
                       signature(body, at=now - 301), signature(body, at=now + 301)]:
            self.assertProblem(deliver(self.client, body, header), 400, "INVALID_SIGNATURE")
        response = self.client.request("POST", PATH, body=body, headers={"Content-Type": "application/json"})
        self.assertProblem(response, 400, "INVALID_SIGNATURE")
        self.assertEqual(self.service.count("webhook_events WHERE event_id = '%s'" % event_id), 0)
        # Within the window either way, the same event goes through.
        self.assertStatus(deliver(self.client, body, signature(body, at=now + 250)), "processed")

    def test_missing_metadata_and_unknown_user_are_422_and_recorded(self):
        event_id, object_id = new_ids()
        body = event_body(event_id, object_id, None, metadata={"credits": "abc"})
        response = deliver(self.client, body)
        self.assertValidationFields(response, ["data.object.metadata.user_id", "data.object.metadata.credits"])
        self.assertEqual(self.event_record(event_id).json()["status"], "rejected")

        unknown_event, unknown_object = new_ids()
        body = event_body(unknown_event, unknown_object, uuid.uuid4())
        self.assertValidationFields(deliver(self.client, body), ["data.object.metadata.user_id"])
        view = self.event_record(unknown_event).json()
        self.assertEqual((view["status"], view["deliveries"], view["processed_at"]), ("rejected", 1, None))
        self.assertEqual(self.service.count("payments WHERE object_id = '%s'" % unknown_object), 0)

    def test_credits_out_of_range_are_422(self):
        user = self.service.create_user()
        for credits in ["0", "1000000001", "-5", "1e3", " 5"]:
            event_id, object_id = new_ids()
            self.assertValidationFields(deliver(self.client, event_body(event_id, object_id, user, credits=credits)),
                                        ["data.object.metadata.credits"])
        self.assertEqual(self.available(user), 0)

    def test_other_event_types_are_ignored(self):
        event_id, object_id = new_ids()
        body = event_body(event_id, object_id, None, event_type="customer.created", metadata={})
        self.assertStatus(deliver(self.client, body), "ignored")
        self.assertStatus(deliver(self.client, body), "duplicate")
        self.assertEqual(self.event_record(event_id).json()["status"], "ignored")

    def test_metrics_count_outcomes(self):
        text = self.client.get("/metrics").body.decode()
        for name in ("tally_webhook_deliveries_total", "tally_webhook_duplicates_total",
                     "tally_webhook_signature_failures_total"):
            self.assertIn(name, text)

    def test_secret_and_signatures_never_logged(self):
        user = self.service.create_user()
        event_id, object_id = new_ids()
        body = event_body(event_id, object_id, user)
        header = signature(body)
        self.assertStatus(deliver(self.client, body, header), "processed")
        deliver(self.client, body + b" ", header)
        log = "\n".join(self.service.log_lines())
        self.assertNotIn(SECRET, log)
        self.assertNotIn(header.split("v1=")[1], log)

    def test_send_script_signs_like_the_provider(self):
        user = self.service.create_user()
        env = dict(os.environ, TALLY_WEBHOOK_SECRET=SECRET,
                   TALLY_URL="http://127.0.0.1:%d" % self.service.port)
        done = subprocess.run([SEND_SCRIPT, user, "42", "evt_script_" + uuid.uuid4().hex[:8]],
                              env=env, capture_output=True, text=True, timeout=30)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn('{"status":"processed"}', done.stdout)
        self.assertIn("HTTP 200", done.stdout)
        self.assertEqual(self.available(user), 42)
        stale = subprocess.run([SEND_SCRIPT, user, "42"], env=dict(env, SIGN_AT=str(int(time.time()) - 400)),
                               capture_output=True, text=True, timeout=30)
        self.assertIn("HTTP 400", stale.stdout)
        self.assertEqual(self.available(user), 42)


class TestWebhooksWithoutSecret(ServiceTestCase):

    def test_no_secret_is_503(self):
        body = event_body("evt_x", "cs_x", uuid.uuid4())
        response = deliver(self.client, body)
        self.assertProblem(response, 503, "WEBHOOKS_NOT_CONFIGURED")


class TestWebhookCrash(WebhookCase):
    """kill -9 right after `processed`, under ack=memory: the top-up and its
    records committed before the answer, so the redelivery is a duplicate."""

    service_env = {"TALLY_WEBHOOK_SECRET": SECRET, "TALLY_ACK": "memory"}

    def test_kill_after_processed_then_redeliver(self):
        user = self.service.create_user()
        event_id, object_id = new_ids()
        body = event_body(event_id, object_id, user, credits="31")
        self.assertStatus(deliver(self.client, body), "processed")
        self.client.close()
        self.service.kill()
        self.service.start()
        self.client = self.service.client()
        self.assertEqual(self.available(user), 31)
        self.assertStatus(deliver(self.client, body), "duplicate")
        second = event_body(event_id + "_b", object_id, user, credits="31")
        self.assertStatus(deliver(self.client, second), "duplicate")
        self.assertEqual(self.available(user), 31)
        self.assertEqual(self.topups(object_id), 1)


class TestWebhookSweep(WebhookCase):
    """Dedupe records older than a (short) retention are deleted by the sweep;
    the payment row stays, so a late redelivery still cannot top up twice."""

    service_env = {"TALLY_WEBHOOK_SECRET": SECRET, "TALLY_WEBHOOK_RETENTION_S": "1",
                   "TALLY_WEBHOOK_SWEEP_INTERVAL_MS": "200"}

    def test_sweep_removes_old_records(self):
        user = self.service.create_user()
        event_id, object_id = new_ids()
        body = event_body(event_id, object_id, user)
        self.assertStatus(deliver(self.client, body), "processed")
        count = lambda: self.service.count("webhook_events WHERE event_id = '%s'" % event_id)
        self.assertEqual(count(), 1)
        self.assertTrue(wait_for(lambda: count() == 0, timeout_s=15), "the sweep left the record")
        self.assertProblem(self.event_record(event_id), 404, "NOT_FOUND")
        self.assertEqual(self.service.count("payments WHERE object_id = '%s'" % object_id), 1)
        self.assertStatus(deliver(self.client, body), "duplicate")
        self.assertEqual(self.available(user), 100)
