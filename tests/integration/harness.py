"""Test harness for Tally's integration tests: the real binary over real HTTP.

Python standard library only. Each test class gets its own service process on
a fresh store, chosen by TALLY_TEST_STORE:

  sqlite    a database file in a temporary directory (the default)
  postgres  a fresh database `t_<random>` in the server named by
            TALLY_TEST_PG_URL (scripts/test starts a throwaway one); the
            tests skip when that variable is unset

TALLY_BINARY names the service binary (default: build/tally beside the repo).
Tests may read the store directly (Service.query) to check what was written.
TALLY_TEST_PG_CTL is a script taking start|stop that controls that Postgres.
TALLY_TEST_KEEP=1 keeps the temporary directories (service logs) for a look.
"""

import base64
import contextlib
import hashlib
import hmac
import http.client
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

BINARY = os.environ.get("TALLY_BINARY") or os.path.join(REPO, "build", "tally")
STORE = os.environ.get("TALLY_TEST_STORE", "sqlite")
PG_URL = os.environ.get("TALLY_TEST_PG_URL", "")
PG_CTL = os.environ.get("TALLY_TEST_PG_CTL", "")
KEEP = os.environ.get("TALLY_TEST_KEEP") == "1"

# Every wait is bounded; these are the bounds, in seconds.
start_timeout_s = 20.0       # process start until /healthz answers 200
stop_timeout_s = 25.0        # SIGTERM until exit (API.md: drain <= 10 s, then flush)
request_timeout_s = 20.0     # one HTTP exchange
command_timeout_s = 30.0     # create-user, mint-token, migrate, psql

JWT_ISSUER = "tally"
JWT_AUDIENCE = "tally-api"

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RFC3339_UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


# --------------------------------------------------------------------------
# Stores


def sql_text(value):
    """`value` as an SQL string literal (both dialects)."""
    return "'" + str(value).replace("'", "''") + "'"


class SqliteStore:
    """A fresh SQLite database file; survives service restarts."""

    kind = "sqlite"

    def __init__(self, directory):
        self.path = os.path.join(directory, "tally.db")
        self.url = "sqlite:" + self.path

    def query(self, sql):
        """Rows of one read-only statement; every value as text, NULL as ""."""
        uri = "file:%s?mode=ro" % urllib.parse.quote(self.path)
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=command_timeout_s)) as db:
            return [tuple("" if value is None else str(value) for value in row)
                    for row in db.execute(sql)]

    def drop(self):
        pass


def psql(url, sql):
    """Runs one SQL statement with psql; returns stdout, raises on failure."""
    done = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-X", "-A", "-t", "-q", "-c", sql],
        capture_output=True, text=True, timeout=command_timeout_s)
    if done.returncode != 0:
        raise RuntimeError("psql failed (%s): %s" % (sql, done.stderr.strip()))
    return done.stdout.strip()


# Separate columns and rows in psql's unaligned output (never part of our
# values, unlike newlines: an outbox body has several lines).
PSQL_FIELD_SEPARATOR = "\x1f"
PSQL_RECORD_SEPARATOR = "\x1e"


class PostgresStore:
    """A fresh database in the throwaway test server, dropped afterwards."""

    kind = "postgres"

    def __init__(self):
        self.name = "t_" + uuid.uuid4().hex[:16]
        psql(PG_URL, "CREATE DATABASE %s" % self.name)
        parts = urllib.parse.urlsplit(PG_URL)
        self.url = urllib.parse.urlunsplit(parts._replace(path="/" + self.name))

    def query(self, sql):
        """Rows of one statement; every value as text, NULL as ""."""
        done = subprocess.run(
            ["psql", self.url, "-v", "ON_ERROR_STOP=1", "-X", "-A", "-t", "-q",
             "-F", PSQL_FIELD_SEPARATOR, "-R", PSQL_RECORD_SEPARATOR, "-c", sql],
            capture_output=True, text=True, timeout=command_timeout_s)
        if done.returncode != 0:
            raise RuntimeError("psql failed (%s): %s" % (sql, done.stderr.strip()))
        output = done.stdout[:-1] if done.stdout.endswith("\n") else done.stdout
        return [tuple(record.split(PSQL_FIELD_SEPARATOR))
                for record in output.split(PSQL_RECORD_SEPARATOR) if record]

    def drop(self):
        with contextlib.suppress(Exception):
            psql(PG_URL, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name)


def require_store():
    """Skips the calling test class when its store is not available."""
    if STORE == "postgres" and not PG_URL:
        raise unittest.SkipTest("TALLY_TEST_PG_URL unset (scripts/test starts a Postgres)")
    if STORE not in ("sqlite", "postgres"):
        raise RuntimeError("TALLY_TEST_STORE must be sqlite or postgres, not %r" % STORE)


def pg_ctl(action):
    """Starts or stops the test Postgres (TALLY_TEST_PG_CTL start|stop)."""
    if not PG_CTL:
        raise unittest.SkipTest("TALLY_TEST_PG_CTL unset")
    subprocess.run([PG_CTL, action], check=True, timeout=60)


# --------------------------------------------------------------------------
# JWTs, minted here so tests can also forge them


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(claims, secret, header=None, alg="HS256", signature=None):
    """An HS256 JWT; `header`, `alg` and `signature` allow forgeries."""
    head = {"alg": alg, "typ": "JWT"}
    if header is not None:
        head = header
    signing_input = (b64url(json.dumps(head, separators=(",", ":")).encode()) + "." +
                     b64url(json.dumps(claims, separators=(",", ":")).encode()))
    if signature is None:
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384,
                  "HS512": hashlib.sha512}.get(alg, hashlib.sha256)
        signature = b64url(hmac.new(secret.encode(), signing_input.encode(), digest).digest())
    return signing_input + "." + signature


def jwt_claims(token):
    """The payload of a JWT, unverified."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def access_claims(user_id, ttl_s=900, now=None, **overrides):
    """The claims of a valid access token (API.md, Auth); overrides win,
    and an override of None removes the claim."""
    now = int(time.time()) if now is None else now
    claims = {"iss": JWT_ISSUER, "aud": JWT_AUDIENCE, "sub": str(user_id),
              "sid": str(uuid.uuid4()), "iat": now, "exp": now + ttl_s,
              "jti": str(uuid.uuid4())}
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


# --------------------------------------------------------------------------
# HTTP clients


class Response:
    """Status, headers (case-insensitive) and the raw body of one exchange."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers      # list of (name, value)
        self.body = body            # bytes, exactly as received

    def header(self, name, default=None):
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return default

    def header_all(self, name):
        name = name.lower()
        return [value for key, value in self.headers if key.lower() == name]

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        text = self.body[:600].decode("utf-8", "replace")
        return "<%d %s %s>" % (self.status, dict(self.headers), text)


def fetch(port, method, path, **kwargs):
    """One request on a connection of its own, closed afterwards."""
    client = Client(port)
    try:
        return client.request(method, path, **kwargs)
    finally:
        client.close()


class Client:
    """A keep-alive HTTP/1.1 connection (http.client) with JSON helpers.

    `connections_opened` counts TCP connections, so a test can tell whether
    several requests really shared one connection.
    """

    def __init__(self, port, host="127.0.0.1", timeout=request_timeout_s):
        self.host, self.port, self.timeout = host, port, timeout
        self.connection = None
        self.connections_opened = 0

    def _connect(self):
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self.connection.connect()
            self.connections_opened += 1
        return self.connection

    def connect(self):
        """Opens the connection now (concurrent runners connect before the barrier)."""
        self._connect()
        return self

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None

    def request(self, method, path, body=None, headers=None, token=None, json_body=None):
        """Sends one request; `json_body` is encoded with Content-Type set,
        `body` (bytes or str) is sent as is. Returns a Response."""
        headers = dict(headers or {})
        if token is not None:
            headers["Authorization"] = "Bearer " + token
        if json_body is not None:
            body = json.dumps(json_body)
            headers.setdefault("Content-Type", "application/json")
        if isinstance(body, str):
            body = body.encode("utf-8")
        connection = self._connect()
        try:
            connection.request(method, path, body=body, headers=headers)
            raw = connection.getresponse()
            data = raw.read()
        except Exception:
            self.close()
            raise
        response = Response(raw.status, raw.getheaders(), data)
        if raw.will_close:
            self.close()
        return response

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, json_body=None, **kwargs):
        return self.request("POST", path, json_body=json_body, **kwargs)


def raw_exchange(port, data, read_timeout_s=5.0, send_pause_s=0.0):
    """Sends raw bytes (all at once, or in the given pieces with pauses) and
    reads until the server closes or `read_timeout_s` passes.

    Returns (bytes received, closed_by_server)."""
    with socket.create_connection(("127.0.0.1", port), timeout=request_timeout_s) as sock:
        pieces = data if isinstance(data, list) else [data]
        with contextlib.suppress(OSError):
            for piece in pieces:
                sock.sendall(piece)
                if send_pause_s:
                    time.sleep(send_pause_s)
        return read_until_close(sock, read_timeout_s)


def read_until_close(sock, read_timeout_s):
    received = b""
    deadline = time.monotonic() + read_timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return received, False
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return received, False
        except (ConnectionResetError, BrokenPipeError):
            return received, True
        if not chunk:
            return received, True
        received += chunk


def status_of(raw):
    """The status code of the first response in raw bytes, or None."""
    match = re.match(rb"HTTP/1\.[01] (\d{3})", raw)
    return int(match.group(1)) if match else None


def run_concurrently(requests, port, connections=None):
    """Sends every request at (nearly) the same moment and returns the
    responses in order.

    `requests` is a list of callables taking a Client and returning a Response.
    Each runs on its own thread with its own, already connected, connection
    (`connections` threads, default one per request); all threads wait on a
    barrier before their first request so the requests truly overlap.
    A request that fails at the transport level yields the exception instead.
    """
    count = len(requests)
    workers = min(count, connections or count)
    results = [None] * count
    barrier = threading.Barrier(workers)
    clients = [Client(port).connect() for _ in range(workers)]

    def work(worker):
        client = clients[worker]
        try:
            barrier.wait(timeout=request_timeout_s)
        except threading.BrokenBarrierError:
            pass
        for index in range(worker, count, workers):
            try:
                results[index] = requests[index](client)
            except Exception as error:          # the test decides what a failure means
                results[index] = error

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=request_timeout_s * 3)
    for client in clients:
        client.close()
    if any(thread.is_alive() for thread in threads):
        raise AssertionError("concurrent requests did not finish within %.0f s" % (request_timeout_s * 3))
    return results


# --------------------------------------------------------------------------
# The service process


class Service:
    """build/tally serve on a free port, with a fresh store by default.

    Logs (one JSON object per line) go to a file in the temporary directory;
    `log_tail()` shows the end of it when something goes wrong.
    """

    def __init__(self, env=None, store=None, workdir=None):
        self.workdir = workdir or tempfile.mkdtemp(prefix="tally-it-")
        self.store = store or (PostgresStore() if STORE == "postgres" else SqliteStore(self.workdir))
        self.jwt_secret = "it-jwt-" + uuid.uuid4().hex
        self.admin_token = "it-admin-" + uuid.uuid4().hex
        self.extra_env = dict(env or {})
        self.process = None
        self.port = None
        self.starts = 0
        self.log_path = None
        self._log_file = None

    def environment(self):
        """The service's environment: ours wins over anything TALLY_* inherited."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("TALLY_")}
        env.update({
            "TALLY_DB": self.store.url,
            "TALLY_HTTP_HOST": "127.0.0.1",
            "TALLY_HTTP_PORT": "0",
            "TALLY_JWT_SECRET": self.jwt_secret,
            "TALLY_ADMIN_TOKEN": self.admin_token,
            "TALLY_LOG_LEVEL": "info",
        })
        env.update(self.extra_env)
        return {k: v for k, v in env.items() if v is not None}

    def start(self):
        """Starts the process and waits until it listens and /healthz is 200."""
        if not os.path.exists(BINARY):
            raise AssertionError("service binary %s does not exist (build it: scripts/setup)" % BINARY)
        self.starts += 1
        self.log_path = os.path.join(self.workdir, "service-%d.log" % self.starts)
        self._log_file = open(self.log_path, "wb")
        self.process = subprocess.Popen([BINARY, "serve"], env=self.environment(),
                                        stdin=subprocess.DEVNULL, stdout=self._log_file,
                                        stderr=subprocess.STDOUT, cwd=self.workdir)
        self.port = self._wait_for_listening()
        self._wait_for_health()
        return self

    def _wait_for_listening(self):
        deadline = time.monotonic() + start_timeout_s
        while time.monotonic() < deadline:
            for record in self.log_records():
                if record.get("msg") == "listening" and isinstance(record.get("port"), int):
                    return record["port"]
            if self.process.poll() is not None:
                raise AssertionError("service exited with %s before listening:\n%s"
                                     % (self.process.returncode, self.log_tail()))
            time.sleep(0.02)
        raise AssertionError("service did not log 'listening' within %.0f s:\n%s"
                             % (start_timeout_s, self.log_tail()))

    def _wait_for_health(self):
        deadline = time.monotonic() + start_timeout_s
        last = None
        while time.monotonic() < deadline:
            client = Client(self.port, timeout=2)
            try:
                response = client.get("/healthz")
                if response.status == 200:
                    return
                last = response
            except OSError as error:
                last = error
            finally:
                client.close()
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("/healthz not 200 within %.0f s (last: %r):\n%s"
                             % (start_timeout_s, last, self.log_tail()))

    def stop(self, sig=signal.SIGTERM, timeout_s=stop_timeout_s):
        """Signals the process and returns its exit code (None if not running)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            code = "timeout"
        self.process = None
        self._log_file.close()
        return code

    def kill(self):
        """kill -9: no drain, no flush."""
        return self.stop(sig=signal.SIGKILL)

    def restart(self):
        """Graceful stop (asserting exit 0) and a start on the same store."""
        code = self.stop()
        if code != 0:
            raise AssertionError("SIGTERM: exit %r, expected 0:\n%s" % (code, self.log_tail()))
        return self.start()

    def cleanup(self):
        """Stops the process if running (SIGKILL), drops the store, removes files."""
        if self.process is not None:
            self.kill()
        self.store.drop()
        if not KEEP:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # Logs ---------------------------------------------------------------

    def log_lines(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return []
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace").splitlines()

    def log_records(self):
        records = []
        for line in self.log_lines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    records.append(record)
        return records

    def log_tail(self, lines=40):
        return "\n".join(self.log_lines()[-lines:])

    # One-shot commands -------------------------------------------------------

    def command(self, *args):
        """Runs `tally <args>` against this service's store and secrets."""
        env = self.environment()
        return subprocess.run([BINARY] + list(args), env=env, capture_output=True, text=True,
                              timeout=command_timeout_s, cwd=self.workdir, stdin=subprocess.DEVNULL)

    def create_user(self, email=None):
        """A new user via `tally create-user`; returns its id."""
        email = email or "u-%s@example.test" % uuid.uuid4().hex[:12]
        done = self.command("create-user", "--email", email)
        if done.returncode != 0:
            raise AssertionError("create-user failed (%d): %s" % (done.returncode, done.stderr))
        user_id = done.stdout.strip()
        if not UUID_RE.match(user_id):
            raise AssertionError("create-user printed %r, not a UUID" % user_id)
        return user_id

    def new_session(self, user_id):
        """A live session of `user_id` via `tally mint-token` (which stores
        one as a login would); returns its id."""
        done = self.command("mint-token", "--user", str(user_id))
        if done.returncode != 0:
            raise AssertionError("mint-token failed (%d): %s" % (done.returncode, done.stderr))
        return jwt_claims(done.stdout.strip())["sid"]

    def token(self, user_id, ttl_s=900, **overrides):
        """A valid access token minted here (same secret as the service) for
        a new live session of `user_id` (the service rejects tokens whose
        session it does not know); `sid=...` names a session instead."""
        if "sid" not in overrides:
            overrides["sid"] = self.new_session(user_id)
        return make_jwt(access_claims(user_id, ttl_s=ttl_s, **overrides), self.jwt_secret)

    def query(self, sql):
        """Rows of a statement run directly on this service's store."""
        return self.store.query(sql)

    def count(self, sql_from_where):
        """SELECT count(*) FROM <sql_from_where>, as an int."""
        return int(self.query("SELECT count(*) FROM " + sql_from_where)[0][0])

    def client(self):
        return Client(self.port)

    # Credits helpers ---------------------------------------------------------

    def grant(self, user_id, amount, key=None, reason="test grant", client=None):
        """Admin grant (or debit, amount < 0); returns the Response."""
        own = client is None
        client = client or self.client()
        try:
            return client.post("/v1/admin/users/%s/credits" % user_id,
                               json_body={"amount": amount, "reason": reason}, token=self.admin_token,
                               headers={"Idempotency-Key": key or "grant-" + uuid.uuid4().hex})
        finally:
            if own:
                client.close()

    def funded_user(self, amount):
        """A new user holding `amount` credits, and an access token for it."""
        user_id = self.create_user()
        if amount:
            response = self.grant(user_id, amount)
            if response.status != 200:
                raise AssertionError("grant failed: %r" % response)
        return user_id, self.token(user_id)


def wait_for(probe, timeout_s=10.0, interval_s=0.05):
    """Calls `probe()` until it returns something truthy (returned) or
    `timeout_s` passes (the last value is returned). For effects that land
    after the response, such as an audit row of a refused login."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval_s)


# --------------------------------------------------------------------------
# Auth (API.md "Auth")


def unique_email(prefix="user"):
    return "%s-%s@example.test" % (prefix, uuid.uuid4().hex[:12])


def unique_phone():
    """+1 and ten digits: E.164 and unique enough for one test run."""
    return "+1" + str(uuid.uuid4().int)[-10:]


def request_magic_link(client, email, headers=None):
    return client.post("/v1/auth/magic-link", json_body={"email": email}, headers=headers)


def verify_magic_link(client, token, headers=None):
    return client.post("/v1/auth/magic-link/verify", json_body={"token": token}, headers=headers)


def request_code(client, phone, headers=None):
    return client.post("/v1/auth/code", json_body={"phone": phone}, headers=headers)


def verify_code(client, phone, code, headers=None):
    return client.post("/v1/auth/code/verify", json_body={"phone": phone, "code": code},
                       headers=headers)


def refresh(client, refresh_token, headers=None):
    return client.post("/v1/auth/refresh", json_body={"refresh_token": refresh_token},
                       headers=headers)


def logout(client, access_token, headers=None):
    """POST /v1/auth/logout with no body at all (no Content-Type either)."""
    return client.request("POST", "/v1/auth/logout", token=access_token, headers=headers)


def charge(client, token, amount, key=None, description=None):
    body = {"amount": amount}
    if description is not None:
        body["description"] = description
    return client.post("/v1/me/charges", json_body=body, token=token,
                       headers={"Idempotency-Key": key or "charge-" + uuid.uuid4().hex})


def charge_settled(client, token, amount, key, timeout_s=20.0):
    """A charge retried while the answer is 503 or 409 (the key's first
    request still in flight), as a client with an idempotency key would.
    Bounded by `timeout_s`; returns the last Response."""
    deadline = time.monotonic() + timeout_s
    while True:
        response = charge(client, token, amount, key=key)
        if response.status not in (409, 503) or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def balance(client, token):
    response = client.get("/v1/me/balance", token=token)
    if response.status != 200:
        raise AssertionError("balance: %r" % response)
    return response.json()


def ledger(client, token, limit=200):
    """The whole ledger, newest first, following next_cursor (bounded)."""
    entries, cursor = [], None
    for _ in range(1000):
        path = "/v1/me/ledger?limit=%d" % limit
        if cursor:
            path += "&cursor=" + urllib.parse.quote(cursor, safe="")
        response = client.get(path, token=token)
        if response.status != 200:
            raise AssertionError("ledger: %r" % response)
        page = response.json()
        entries.extend(page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            return entries
    raise AssertionError("ledger: more than 1000 pages")


# What each ledger entry type does to (available, reserved), per unit of amount.
LEDGER_EFFECTS = {
    "grant": (1, 0), "topup": (1, 0), "debit": (-1, 0), "charge": (-1, 0),
    "reserve": (-1, 1), "capture": (0, -1), "release": (1, -1),
}


def check_ledger_chain(test, entries, current):
    """The ledger (newest first) explains `current` balance exactly: every
    amount > 0, every *_after follows from the one before, and the sums match."""
    available = reserved = 0
    for entry in reversed(entries):
        test.assertIn(entry["type"], LEDGER_EFFECTS, entry)
        test.assertIsInstance(entry["amount"], int, entry)
        test.assertGreater(entry["amount"], 0, entry)
        da, dr = LEDGER_EFFECTS[entry["type"]]
        available += da * entry["amount"]
        reserved += dr * entry["amount"]
        test.assertEqual(entry["available_after"], available, entry)
        test.assertEqual(entry["reserved_after"], reserved, entry)
    test.assertEqual(available, current["available"])
    test.assertEqual(reserved, current["reserved"])


class ServiceTestCase(unittest.TestCase):
    """One service per test class on a fresh store (TALLY_TEST_STORE).

    Subclasses may set `service_env` for extra TALLY_* settings. The service
    is stopped with SIGTERM at the end, and the exit code must be 0.
    """

    service_env = {}

    @classmethod
    def setUpClass(cls):
        require_store()
        cls.service = Service(env=cls.service_env)
        try:
            cls.service.start()
        except BaseException:
            sys.stderr.write(cls.service.log_tail() + "\n")
            cls.service.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        service = cls.service
        try:
            code = service.stop()
            if code not in (0, None):
                raise AssertionError("SIGTERM: service exited %r, expected 0:\n%s"
                                     % (code, service.log_tail()))
        finally:
            # ctest shows this only when something failed.
            sys.stderr.write("---- service log tail (%s)\n%s\n" % (cls.__name__, service.log_tail(25)))
            service.cleanup()

    def setUp(self):
        self.client = self.service.client()

    def tearDown(self):
        self.client.close()

    # Assertions --------------------------------------------------------------

    def assertProblem(self, response, status, code=None, codes=None):
        """`response` is an RFC 9457 problem with this status and code, and
        its request_id matches the X-Request-ID header. Returns the body."""
        self.assertEqual(response.status, status, response)
        content_type = (response.header("Content-Type") or "").split(";")[0].strip().lower()
        self.assertEqual(content_type, "application/problem+json", response)
        body = response.json()
        for field in ("type", "title", "status", "code", "detail", "request_id"):
            self.assertIn(field, body, response)
        self.assertEqual(body["status"], status, response)
        if code is not None:
            self.assertEqual(body["code"], code, response)
        if codes is not None:
            self.assertIn(body["code"], codes, response)
        self.assertEqual(body["type"], "/problems/" + body["code"].lower().replace("_", "-"), response)
        self.assertIsInstance(body["title"], str)
        self.assertIsInstance(body["detail"], str)
        self.assertTrue(body["request_id"], response)
        self.assertEqual(body["request_id"], response.header("X-Request-ID"), response)
        return body

    def assertValidationFields(self, response, fields):
        """422 VALIDATION_FAILED naming exactly these fields (at least once each)."""
        body = self.assertProblem(response, 422, "VALIDATION_FAILED")
        self.assertIsInstance(body.get("errors"), list, response)
        named = {error.get("field") for error in body["errors"]}
        for error in body["errors"]:
            self.assertIsInstance(error.get("message"), str, response)
        self.assertEqual(named, set(fields), response)
        return body


class AuthTestCase(ServiceTestCase):
    """A service in dev mode (debug_token / debug_code in responses), with
    login helpers and assertions for API.md "Auth"."""

    service_env = {"TALLY_DEV": "1"}

    # Logins ------------------------------------------------------------------

    def magic_token(self, email, headers=None):
        """Requests a magic link; returns its debug_token."""
        response = request_magic_link(self.client, email, headers=headers)
        self.assertEqual(response.status, 202, response)
        token = response.json().get("debug_token")
        self.assertIsInstance(token, str, response)
        return token

    def code_for(self, phone, headers=None):
        """Requests a login code; returns its debug_code."""
        response = request_code(self.client, phone, headers=headers)
        self.assertEqual(response.status, 202, response)
        code = response.json().get("debug_code")
        self.assertRegex(code or "", r"^[0-9]{6}$", response)
        return code

    def login_email(self, email=None, headers=None):
        """A full magic-link login; returns the token pair."""
        email = email or unique_email()
        response = verify_magic_link(self.client, self.magic_token(email, headers=headers),
                                     headers=headers)
        return self.assertTokenPair(response, email=email.strip().lower())

    def login_phone(self, phone=None):
        """A full code login; returns the token pair."""
        phone = phone or unique_phone()
        response = verify_code(self.client, phone, self.code_for(phone))
        return self.assertTokenPair(response, phone=phone)

    def outbox_bodies(self, destination):
        """Bodies of the outbox rows for `destination`, oldest first."""
        rows = self.service.query("SELECT body FROM outbox WHERE destination = %s ORDER BY created_at"
                                  % sql_text(destination))
        return [row[0] for row in rows]

    # Assertions ----------------------------------------------------------------

    def assertTokenPair(self, response, email=None, phone=None):
        """200 with exactly the API.md token pair; returns it."""
        self.assertEqual(response.status, 200, response)
        pair = response.json()
        self.assertEqual(set(pair), {"access_token", "refresh_token", "token_type", "expires_in", "user"},
                         response)
        self.assertEqual(pair["token_type"], "Bearer")
        self.assertEqual(pair["expires_in"], 900)
        self.assertIsInstance(pair["refresh_token"], str)
        # API.md: >= 256 random bits; base64url carries 6 bits a character.
        self.assertGreaterEqual(len(pair["refresh_token"]), 43)
        user = pair["user"]
        self.assertEqual(set(user), {"id", "email", "phone", "created_at"}, response)
        self.assertRegex(user["id"], UUID_RE)
        self.assertRegex(user["created_at"], RFC3339_UTC_RE)
        if email is not None:
            self.assertEqual(user["email"], email)
        if phone is not None:
            self.assertEqual(user["phone"], phone)
        claims = jwt_claims(pair["access_token"])
        self.assertEqual(claims["sub"], user["id"])
        self.assertRegex(claims["sid"], UUID_RE)
        self.assertEqual(claims["iss"], JWT_ISSUER)
        self.assertEqual(claims["exp"] - claims["iat"], 900)
        return pair

    def assertAuthError(self, response, code):
        """401 with this code."""
        return self.assertProblem(response, 401, code)

    def assertRateLimited(self, response):
        """429 RATE_LIMITED with Retry-After in whole seconds >= 1; returns it."""
        self.assertProblem(response, 429, "RATE_LIMITED")
        retry_after = response.header("Retry-After") or ""
        self.assertRegex(retry_after, r"^[0-9]+$", response)
        self.assertGreaterEqual(int(retry_after), 1, response)
        return int(retry_after)
