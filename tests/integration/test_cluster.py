"""Issue 15, the cluster: three real nodes on loopback over one throwaway
Postgres (scripts/test's), lease TTL 3 s. Any node serves any key; kill -9 a
node under load and its shards are served again within TTL + 1 s with no
acknowledged charge lost and none applied twice; the node rejoins; a node
SIGSTOPped past its TTL (a zombie) serves nothing stale when it wakes; first
logins, tenant races and webhook deliveries spread over the nodes each have
exactly one winner. Postgres only (a cluster on SQLite is refused)."""

import collections
import contextlib
import json
import os
import shutil
import signal
import subprocess
import socket
import threading
import time
import unittest
import uuid

import harness
from harness import (BINARY, Client, PostgresStore, Service, charge, pg_ctl, request_magic_link,
                     require_store, run_concurrently, sql_text, unique_email, verify_magic_link,
                     wait_for)

LEASE_TTL_S = 3.0
NODE_COUNT = 3
SHARD_COUNT = 256
# The promise (issue 15): a dead node's shards are served again within
# TTL + one renewal (TTL/5); we allow TTL + 1 s as the issue states, plus the
# client's own polling step.
RECOVERY_BOUND_S = LEASE_TTL_S + 1.0 + 0.5
WEBHOOK_SECRET = "whsec_cluster_" + uuid.uuid4().hex


def shard_of(key):
    """protocols/cluster.cpp: FNV-1a 32 over the UUID's 16 bytes, mod 256."""
    value = 2166136261
    for byte in uuid.UUID(str(key)).bytes:
        value ^= byte
        value = (value * 16777619) & 0xFFFFFFFF
    return value % SHARD_COUNT


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_across(requests, ports):
    """run_concurrently, but request i goes to node ports[i % len(ports)]:
    every request has its own connection and all start at a barrier."""
    results = [None] * len(requests)
    barrier = threading.Barrier(len(requests))
    clients = [Client(ports[i % len(ports)]).connect() for i in range(len(requests))]

    def work(index):
        try:
            barrier.wait(timeout=harness.request_timeout_s)
        except threading.BrokenBarrierError:
            pass
        try:
            results[index] = requests[index](clients[index])
        except Exception as error:        # the test decides what it means
            results[index] = error

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=harness.request_timeout_s * 3)
    for client in clients:
        client.close()
    return results


def status_of(response):
    return getattr(response, "status", type(response).__name__)


class Cluster:
    """Three `tally serve` processes sharing one Postgres database, the JWT
    secret and the admin token (a cluster shares them: any node verifies
    any token)."""

    def __init__(self):
        self.store = PostgresStore()
        self.nodes = []
        for index in range(NODE_COUNT):
            env = {
                "TALLY_CLUSTER": "1",
                "TALLY_NODE_ID": "node-%d" % index,
                "TALLY_HTTP_PORT": str(free_port()),
                "TALLY_INTERNAL_PORT": str(free_port()),
                "TALLY_LEASE_TTL_MS": str(int(LEASE_TTL_S * 1000)),
                "TALLY_DEV": "1",
                "TALLY_WEBHOOK_SECRET": WEBHOOK_SECRET,
                "TALLY_RATE_MAGIC_LINK_PER_EMAIL": "1000",
                "TALLY_RATE_MAGIC_LINK_PER_IP": "1000",
                "TALLY_RATE_MAGIC_LINK_VERIFY_PER_IP": "1000",
            }
            node = Service(env=env, store=self.store)
            if self.nodes:
                node.jwt_secret = self.nodes[0].jwt_secret
                node.admin_token = self.nodes[0].admin_token
            self.nodes.append(node)

    @property
    def admin_token(self):
        return self.nodes[0].admin_token

    def ports(self, exclude=()):
        return [n.port for i, n in enumerate(self.nodes) if i not in exclude and n.process]

    def view(self, node):
        client = node.client()
        try:
            response = client.get("/v1/admin/cluster", token=self.admin_token)
        finally:
            client.close()
        if response.status != 200:
            raise AssertionError("GET /v1/admin/cluster: %r" % response)
        return response.json()

    def owners(self):
        """shard -> owning node id, as the store records the leases now."""
        rows = self.store.query("SELECT shard, owner_node FROM shard_leases "
                                "WHERE owner_node IS NOT NULL AND expires_at > now()")
        return {int(shard): owner for shard, owner in rows}

    def settled(self, alive):
        """True when every node in `alive` sees exactly those nodes alive,
        owning all shards between them, each at least one, and is ready."""
        for index in alive:
            node = self.nodes[index]
            try:
                view = self.view(node)
                ready = fetch_status(node.port, "/readyz")
            except (OSError, AssertionError):
                return False
            if ready != 200 or view["node_id"] != "node-%d" % index:
                return False
            live = {n["id"]: n for n in view["nodes"] if n["status"] == "alive"}
            if set(live) != {"node-%d" % i for i in alive}:
                return False
            if sum(n["shards"] for n in live.values()) != SHARD_COUNT:
                return False
            if any(n["shards"] == 0 for n in live.values()):
                return False
        return True

    def wait_settled(self, alive, timeout_s=30.0):
        if not wait_for(lambda: self.settled(alive), timeout_s=timeout_s, interval_s=0.2):
            views = []
            for index in alive:
                try:
                    views.append(self.view(self.nodes[index]))
                except Exception as error:           # shown, not hidden
                    views.append(repr(error))
            raise AssertionError("cluster did not settle on nodes %s within %.0f s: %s\n%s"
                                 % (alive, timeout_s, json.dumps(views, indent=1),
                                    "\n".join(n.log_tail(15) for n in self.nodes if n.process)))

    def wait_stable(self, quiet_s=2.0, timeout_s=30.0):
        """Waits until no lease changes hands for `quiet_s` (a joining node
        takes its shards over a few per renewal, after `settled` is true)."""
        deadline = time.monotonic() + timeout_s
        last, since = None, time.monotonic()
        while time.monotonic() < deadline:
            now = self.owners()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            time.sleep(0.2)
        raise AssertionError("leases still moving after %.0f s" % timeout_s)

    def cleanup(self):
        for node in self.nodes:
            if node.process is not None:
                node.kill()
        self.store.drop()


def freeze(process, timeout_s=5.0):
    """SIGSTOP, then wait until every thread of the process is stopped: the
    signal takes effect asynchronously, and on a busy machine a thread can
    still serve a request sent a few milliseconds after kill() returned."""
    process.send_signal(signal.SIGSTOP)
    deadline = time.monotonic() + timeout_s
    task_dir = "/proc/%d/task" % process.pid
    while time.monotonic() < deadline:
        states = []
        for tid in os.listdir(task_dir):
            with contextlib.suppress(OSError):
                with open(os.path.join(task_dir, tid, "stat")) as stat:
                    states.append(stat.read().rsplit(")", 1)[1].split()[0])
        if states and all(state in ("T", "t") for state in states):
            return
        time.sleep(0.001)
    raise AssertionError("process %d did not stop within %.0f s" % (process.pid, timeout_s))


def fetch_status(port, path):
    client = Client(port, timeout=3)
    try:
        return client.get(path).status
    finally:
        client.close()


def settle_charge(ports, token, amount, key, deadline_s=20.0):
    """A client with an idempotency key: retries on 503/409 and on transport
    errors, rotating over the nodes, until a final answer or the deadline."""
    deadline = time.monotonic() + deadline_s
    attempt = 0
    while True:
        port = ports[attempt % len(ports)]
        attempt += 1
        client = Client(port, timeout=5)
        try:
            response = charge(client, token, amount, key=key)
            if response.status not in (409, 503):
                return response
        except OSError:
            response = None
        finally:
            client.close()
        if time.monotonic() > deadline:
            return response
        time.sleep(0.1)


class ClusterTest(unittest.TestCase):
    """One cluster for the class; tests run in name order and the later ones
    (kill, rejoin, zombie) change its membership."""

    @classmethod
    def setUpClass(cls):
        require_store()
        if harness.STORE != "postgres":
            raise unittest.SkipTest("the cluster runs on Postgres only")
        cls.cluster = Cluster()
        try:
            for node in cls.cluster.nodes:
                node.start()
            cls.cluster.wait_settled(range(NODE_COUNT))
        except BaseException:
            for node in cls.cluster.nodes:
                if node.log_path:
                    print("---- %s\n%s" % (node.extra_env["TALLY_NODE_ID"], node.log_tail(30)))
            cls.cluster.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            for node in cls.cluster.nodes:
                if node.process is not None:
                    code = node.stop()
                    if code != 0:
                        raise AssertionError("SIGTERM: %s exited %r:\n%s"
                                             % (node.extra_env["TALLY_NODE_ID"], code,
                                                node.log_tail()))
        finally:
            cls.cluster.store.drop()

    # Helpers -------------------------------------------------------------------

    def node(self, index):
        return self.cluster.nodes[index]

    def funded_user(self, amount, owner=None):
        """A user holding `amount` (granted through node 0) and a token; with
        `owner`, one whose shard that node owns now."""
        for _ in range(200):
            user_id, token = self.node(0).funded_user(amount)
            if owner is None or self.cluster.owners().get(shard_of(user_id)) == owner:
                return user_id, token
        raise AssertionError("no user landed on a shard of %s in 200 tries" % owner)

    def stored_available(self, user_id):
        return int(self.cluster.store.query(
            "SELECT available FROM users WHERE id = %s" % sql_text(user_id))[0][0])

    def assertLedgerExplains(self, user_id, granted, acknowledged):
        """Store truth: each acknowledged charge exactly once in the ledger,
        no other charge, and the balance = grant - the charges."""
        rows = self.cluster.store.query(
            "SELECT reference, amount FROM ledger_entries WHERE user_id = %s AND type = 'charge'"
            % sql_text(user_id))
        references = collections.Counter(reference for reference, _ in rows)
        self.assertEqual([r for r, n in references.items() if n > 1], [], "a charge applied twice")
        for charge_id in acknowledged:
            self.assertEqual(references[charge_id], 1, "acknowledged charge %s lost" % charge_id)
        self.assertEqual(set(references), set(acknowledged), "a charge nobody acknowledged")
        spent = sum(int(amount) for _, amount in rows)
        self.assertEqual(self.stored_available(user_id), granted - spent)

    def diagnose(self, user_id):
        """What the store and the nodes' logs say about a user's charges."""
        rows = self.cluster.store.query(
            "SELECT type, amount, reference, created_at FROM ledger_entries WHERE user_id = %s "
            "ORDER BY seq" % sql_text(user_id))
        leases = self.cluster.store.query(
            "SELECT owner_node, epoch, expires_at > now() FROM shard_leases WHERE shard = %d"
            % shard_of(user_id))
        return "ledger %s; shard %d lease %s\n%s" % (rows, shard_of(user_id), leases, "\n".join(
            "%s:\n%s" % (n.extra_env["TALLY_NODE_ID"], n.log_tail(12)) for n in self.cluster.nodes))

    # 1. Membership -------------------------------------------------------------

    def test_a_every_node_lists_the_members_and_shards(self):
        for index in range(NODE_COUNT):
            view = self.cluster.view(self.node(index))
            self.assertEqual(view["node_id"], "node-%d" % index)
            self.assertEqual(sorted(n["id"] for n in view["nodes"]),
                             ["node-%d" % i for i in range(NODE_COUNT)])
            for member in view["nodes"]:
                self.assertEqual(set(member), {"id", "address", "status", "shards"}, member)
                self.assertEqual(member["status"], "alive", member)
            self.assertEqual(sum(n["shards"] for n in view["nodes"]), SHARD_COUNT)
        owners = self.cluster.owners()
        self.assertEqual(len(owners), SHARD_COUNT)
        self.assertEqual(set(owners.values()), {"node-%d" % i for i in range(NODE_COUNT)})
        metrics = self.node(0).client().get("/metrics").body.decode()
        self.assertIn("tally_cluster_shards_owned", metrics)
        self.assertIn('tally_cluster_members{status="alive"} 3', metrics)

    # 2. Any node serves any key -------------------------------------------------

    def test_b_charges_spread_across_nodes_apply_once(self):
        users = [self.funded_user(10_000) for _ in range(6)]
        requests, expected = [], collections.defaultdict(list)
        for n in range(90):
            user_id, token = users[n % len(users)]
            key = "spread-%d-%s" % (n, uuid.uuid4().hex)
            amount = 1 + n % 7
            expected[user_id].append((key, amount))
            requests.append(lambda c, t=token, a=amount, k=key: charge(c, t, a, key=k))
        ports = self.cluster.ports()
        responses = run_across(requests, ports)
        self.assertEqual(collections.Counter(map(status_of, responses)), {201: len(requests)})
        # A retry of every key on another node replays the stored answer.
        replays = run_across([(lambda c, r=requests[i]: r(c)) for i in range(len(requests))],
                             ports[1:] + ports[:1])
        for first, again in zip(responses, replays):
            self.assertEqual(status_of(again), 201, again)
            self.assertEqual(again.json()["id"], first.json()["id"])
        acknowledged = collections.defaultdict(list)
        for n, response in enumerate(responses):
            acknowledged[users[n % len(users)][0]].append(response.json()["id"])
        for user_id, token in users:
            spent = sum(a for _, a in expected[user_id])
            self.assertLedgerExplains(user_id, 10_000, acknowledged[user_id])
            for port in ports:
                client = Client(port)
                try:
                    self.assertEqual(harness.balance(client, token)["available"], 10_000 - spent)
                finally:
                    client.close()
        forwarded = sum(metric_value(self.node(i), "tally_cluster_forwards_total")
                        for i in range(NODE_COUNT))
        self.assertGreater(forwarded, 0, "no command crossed nodes")

    def test_c_twenty_first_logins_across_nodes_make_one_user(self):
        email = unique_email("cluster")
        tokens = []
        for n in range(20):
            client = self.node(n % NODE_COUNT).client()
            try:
                response = request_magic_link(client, email)
            finally:
                client.close()
            self.assertEqual(response.status, 202, response)
            tokens.append(response.json()["debug_token"])
        responses = run_across([lambda c, t=t: verify_magic_link(c, t) for t in tokens],
                               self.cluster.ports())
        self.assertEqual(collections.Counter(map(status_of, responses)), {200: 20}, responses)
        self.assertEqual(len({r.json()["user"]["id"] for r in responses}), 1)
        self.assertEqual(int(self.cluster.store.query(
            "SELECT count(*) FROM identities WHERE kind = 'email' AND value = %s"
            % sql_text(email))[0][0]), 1)
        self.assertEqual(int(self.cluster.store.query(
            "SELECT count(*) FROM users WHERE email = %s" % sql_text(email))[0][0]), 1)

    def test_d_tenant_and_subdomain_races_across_nodes_have_one_winner(self):
        ports = self.cluster.ports()
        owners = []
        for _ in range(10):
            user_id = self.node(0).create_user(unique_email("tenant"))
            token = self.node(0).token(user_id)
            client = self.node(len(owners) % NODE_COUNT).client()
            try:
                response = client.post("/v1/tenants", {"name": "Acme"}, token=token)
            finally:
                client.close()
            self.assertEqual(response.status, 201, response)
            owners.append((token, response.json()["id"]))

        def activate(client, token, tenant, name):
            return client.post("/v1/tenants/%s/modules/activate" % tenant,
                               {"module": "shop", "subdomain": name}, token=token)

        token, tenant = owners[0]
        names = ["race-%s" % uuid.uuid4().hex[:10] for _ in range(20)]
        responses = run_across([lambda c, n=n: activate(c, token, tenant, n) for n in names], ports)
        self.assertEqual(sorted(map(status_of, responses)), [200] + [409] * 19, responses)
        self.assertEqual(int(self.cluster.store.query(
            "SELECT count(*) FROM subscriptions WHERE tenant_id = %s" % sql_text(tenant))[0][0]), 1)

        contested = "contested-%s" % uuid.uuid4().hex[:10]
        rivals = owners[1:]
        responses = run_across([lambda c, t=t, o=o: activate(c, o, t, contested) for o, t in rivals],
                               ports)
        self.assertEqual(sorted(map(status_of, responses)), [200] + [409] * 8, responses)
        winners = [t for (_, t), r in zip(rivals, responses) if status_of(r) == 200]
        self.assertEqual(self.cluster.store.query(
            "SELECT tenant_id FROM subdomains WHERE name = %s" % sql_text(contested)),
            [(winners[0],)])

    def test_e_fifty_webhook_deliveries_across_nodes_process_once(self):
        user_id = self.node(0).create_user()
        suffix = uuid.uuid4().hex[:16]
        event = {"id": "evt_" + suffix, "object": "event", "type": "checkout.session.completed",
                 "data": {"object": {"id": "cs_" + suffix, "object": "checkout.session",
                                     "metadata": {"user_id": user_id, "credits": "100"}}}}
        body = json.dumps(event, separators=(",", ":")).encode()

        def deliver(client):
            import hashlib
            import hmac
            at = int(time.time())
            digest = hmac.new(WEBHOOK_SECRET.encode(), b"%d." % at + body, hashlib.sha256).hexdigest()
            return client.request("POST", "/v1/webhooks/payments", body=body,
                                  headers={"Content-Type": "application/json",
                                           "Stripe-Signature": "t=%d,v1=%s" % (at, digest)})

        responses = run_across([deliver] * 50, self.cluster.ports())
        self.assertEqual(collections.Counter(map(status_of, responses)), {200: 50}, responses)
        outcomes = collections.Counter(r.json()["status"] for r in responses)
        self.assertEqual(outcomes, {"processed": 1, "duplicate": 49}, outcomes)
        self.assertEqual(self.stored_available(user_id), 100)
        self.assertEqual(int(self.cluster.store.query(
            "SELECT count(*) FROM ledger_entries WHERE type = 'topup' AND reference = %s"
            % sql_text("cs_" + suffix))[0][0]), 1)

    # 3. Faults -------------------------------------------------------------------

    def test_f_kill_a_node_under_load_loses_nothing(self):
        victim = 2
        survivors = [0, 1]
        self.cluster.wait_stable()
        # Users on the victim's shards, and on the others'.
        users = [self.funded_user(1_000_000, owner="node-%d" % victim) for _ in range(3)]
        users += [self.funded_user(1_000_000) for _ in range(3)]
        acknowledged = collections.defaultdict(list)
        failures = []
        stop = threading.Event()
        lock = threading.Lock()

        def load(user_id, token, worker):
            ports = [self.node(i).port for i in survivors]
            n = 0
            while not stop.is_set():
                n += 1
                key = "load-%d-%d-%s" % (worker, n, uuid.uuid4().hex[:8])
                response = settle_charge(ports, token, 1, key)
                with lock:
                    if status_of(response) == 201:
                        acknowledged[user_id].append(response.json()["id"])
                    else:
                        failures.append((key, response))

        threads = [threading.Thread(target=load, args=(u, t, w), daemon=True)
                   for w, (u, t) in enumerate(users)]
        for thread in threads:
            thread.start()
        time.sleep(1.0)
        self.node(victim).kill()
        killed_at = time.monotonic()
        # A victim's user is served again (through a survivor) within the bound.
        probe_user, probe_token = users[0]
        recovered_after = None
        while time.monotonic() - killed_at < 15:
            client = Client(self.node(0).port, timeout=5)
            try:
                if harness.charge(client, probe_token, 1, key="probe-" + uuid.uuid4().hex).status == 201:
                    recovered_after = time.monotonic() - killed_at
                    break
            except OSError:
                pass
            finally:
                client.close()
            time.sleep(0.05)
        # The probe charges are not tracked: count them from the store below.
        time.sleep(1.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        self.assertEqual(failures, [], "charges that never settled")
        self.assertIsNotNone(recovered_after, "the victim's shards were never served again")
        self.assertLessEqual(recovered_after, RECOVERY_BOUND_S)
        for user_id, _ in users:
            probes = [r for (r,) in self.cluster.store.query(
                "SELECT reference FROM ledger_entries WHERE user_id = %s AND type = 'charge' "
                "AND reference NOT IN (%s)" % (sql_text(user_id), ",".join(
                    sql_text(c) for c in acknowledged[user_id]) or "''"))]
            self.assertLessEqual(len(probes), 1 if user_id == probe_user else 0)
            self.assertLedgerExplains(user_id, 1_000_000, acknowledged[user_id] + probes)
        self.assertGreater(sum(len(v) for v in acknowledged.values()), 50, "too little load")
        self.cluster.wait_settled(survivors)
        print("recovered after %.2f s (TTL %.1f s)" % (recovered_after, LEASE_TTL_S))

    def test_g_a_restarted_node_rejoins_and_takes_shards_back(self):
        if self.node(2).process is None:
            self.node(2).start()
        self.cluster.wait_settled(range(NODE_COUNT))
        user_id, token = self.funded_user(100, owner="node-2")
        response = settle_charge(self.cluster.ports(exclude=(2,)), token, 7, "after-rejoin")
        self.assertEqual(status_of(response), 201, response)
        self.assertEqual(self.stored_available(user_id), 93)

    def test_h_a_zombie_serves_nothing_stale(self):
        zombie = 1
        self.cluster.wait_stable()
        user_id, token = self.funded_user(1000, owner="node-%d" % zombie)
        first = settle_charge([self.node(zombie).port], token, 10, "zombie-warm")
        self.assertEqual(status_of(first), 201, first)        # in the zombie's memory now
        freeze(self.node(zombie).process)
        try:
            # A request sent to the frozen node waits in its socket.
            frozen = Client(self.node(zombie).port, timeout=30).connect()
            answer = {}
            waiting = threading.Thread(target=lambda: answer.update(
                r=charge(frozen, token, 100, key="sent-to-zombie")), daemon=True)
            waiting.start()
            # And a read: memory the zombie still holds (990) must not be served.
            frozen_reader = Client(self.node(zombie).port, timeout=30).connect()
            reading = threading.Thread(target=lambda: answer.update(
                read=frozen_reader.get("/v1/me/balance", token=token)), daemon=True)
            reading.start()
            time.sleep(LEASE_TTL_S + 1.5)
            # Someone else serves the user now, from the committed state.
            moved = settle_charge([self.node(0).port], token, 20, "after-move")
            self.assertEqual(status_of(moved), 201, moved)
            self.assertEqual(moved.json()["available"], 970, self.diagnose(user_id))
        finally:
            self.node(zombie).process.send_signal(signal.SIGCONT)
        waiting.join(timeout=30)
        reading.join(timeout=30)
        frozen.close()
        frozen_reader.close()
        late, read = answer.get("r"), answer.get("read")
        # The read is either refused or shows the new owner's committed state
        # (before or after the late charge), never the zombie's 990.
        self.assertIn(status_of(read), (200, 503), read)
        if status_of(read) == 200:
            self.assertIn(read.json()["available"], (970, 870), read)
        # Woken up, the zombie either hands the charge to the owner (a
        # balance after both earlier charges) or refuses it; never 890 from
        # its stale 990.
        self.assertIn(status_of(late), (201, 503), late)
        acknowledged = [first.json()["id"], moved.json()["id"]]
        if status_of(late) == 201:
            self.assertEqual(late.json()["available"], 870, late)
            acknowledged.append(late.json()["id"])
        self.assertLedgerExplains(user_id, 1000, acknowledged)
        # And it finds its way back into the cluster by itself.
        self.cluster.wait_settled(range(NODE_COUNT))

    def test_i_a_node_with_another_shard_count_refuses_to_start(self):
        # The count this build has is recorded at the first join; a store
        # that records another (a cluster of another build) refuses us.
        self.cluster.store.query("UPDATE cluster_meta SET shard_count = 128")
        stranger = Service(env=dict(self.node(0).extra_env, TALLY_NODE_ID="node-x",
                                    TALLY_HTTP_PORT=str(free_port()),
                                    TALLY_INTERNAL_PORT=str(free_port())),
                           store=self.cluster.store)
        stranger.jwt_secret, stranger.admin_token = self.node(0).jwt_secret, self.cluster.admin_token
        try:
            done = subprocess.run([BINARY, "serve"], env=stranger.environment(), capture_output=True,
                                  text=True, timeout=30, cwd=stranger.workdir)
        finally:
            self.cluster.store.query("UPDATE cluster_meta SET shard_count = %d" % SHARD_COUNT)
            shutil.rmtree(stranger.workdir, ignore_errors=True)
        self.assertEqual(done.returncode, 2, done.stdout + done.stderr)
        self.assertIn("shard", (done.stdout + done.stderr).lower())
        self.assertEqual(self.cluster.store.query(
            "SELECT count(*) FROM cluster_nodes WHERE id = 'node-x'"), [("0",)])

    def test_j_postgres_unreachable_stops_serving_then_recovers(self):
        user_id, token = self.funded_user(100)
        pg_ctl("stop")
        try:
            # No renewals: every node stops serving at its own deadline and
            # says so on /readyz; nothing is served from memory meanwhile.
            time.sleep(LEASE_TTL_S + 1.0)
            for index in range(NODE_COUNT):
                port = self.node(index).port
                self.assertTrue(wait_for(lambda p=port: fetch_status(p, "/readyz") == 503, timeout_s=5),
                                "node-%d still ready without Postgres" % index)
            client = Client(self.node(0).port, timeout=10)
            try:
                self.assertEqual(charge(client, token, 1, key="during-outage").status, 503)
            finally:
                client.close()
        finally:
            pg_ctl("start")
        # Back by themselves: the nodes rejoin, share the shards and serve.
        self.cluster.wait_settled(range(NODE_COUNT), timeout_s=60)
        response = settle_charge(self.cluster.ports(), token, 5, "after-outage", deadline_s=30)
        self.assertEqual(status_of(response), 201, response)
        self.assertLedgerExplains(user_id, 100, [response.json()["id"]])


def metric_value(node, name):
    """The sum of every sample of metric `name` on a node."""
    client = node.client()
    try:
        text = client.get("/metrics").body.decode()
    finally:
        client.close()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


if __name__ == "__main__":
    unittest.main()
