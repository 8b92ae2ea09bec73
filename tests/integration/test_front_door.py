"""The front door under connection pressure and on HTTP/1.1's corners, on raw
sockets (issue 9, items 3 and 4):

- idle keep-alive connections give way to a newcomer at connections_max; a
  server full of busy connections answers 503 + Retry-After, never a silent
  close; one client IP cannot take more than connections_per_ip_max;
- the bytes held for request bodies are bounded over all connections
  (buffered_bytes_max): a body beyond it gets 503, and the room comes back;
- HEAD on every GET route, 405's detail = Allow, empty lines before the
  request line, absolute-form targets, bare-LF line ends answered 400 at once.
"""

import contextlib
import json
import re
import socket
import time
import unittest

import harness
from harness import ServiceTestCase, read_until_close, status_of

# How long a refused or rejected connection may take to be answered; far
# below the read time-out (10 s) that a silent close would take.
prompt_answer_s = 3.0


def connect(port, source_ip="127.0.0.1"):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(harness.request_timeout_s)
    sock.bind((source_ip, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def read_response(sock, timeout_s=harness.request_timeout_s):
    """One response (header and a Content-Length body) from a kept-alive
    connection: (status, headers dict lower-cased, body bytes), or None if
    the server closed or said nothing in time."""
    sock.settimeout(timeout_s)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return None
            rest += chunk
        return int(lines[0].split()[1]), headers, rest
    except (socket.timeout, ConnectionResetError):
        return None


def get_healthz(sock):
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
    return read_response(sock)


def partial_request(sock):
    """Starts a request and leaves it unfinished: a busy connection."""
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n")


def closed_by_server(sock, timeout_s=prompt_answer_s):
    received, closed = read_until_close(sock, timeout_s)
    return closed and received == b""


class SocketsTestCase(ServiceTestCase):

    def setUp(self):
        super().setUp()
        self.sockets = []

    def tearDown(self):
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()
        # The server notices the closes on its own time: let it, so the next
        # test starts with free slots.
        time.sleep(0.3)
        super().tearDown()

    def open(self, source_ip="127.0.0.1"):
        sock = connect(self.service.port, source_ip)
        self.sockets.append(sock)
        return sock

    def assertRefused503(self, sock):
        """The connection is answered 503 OVERLOADED + Retry-After and closed."""
        started = time.monotonic()
        received, closed = read_until_close(sock, prompt_answer_s)
        self.assertEqual(status_of(received), 503, received)
        self.assertRegex(received, rb"(?i)\r\nretry-after: [1-9]\d*\r\n")
        self.assertIn(b'"OVERLOADED"', received)
        self.assertTrue(closed, "a refused connection must be closed after the 503")
        self.assertLess(time.monotonic() - started, prompt_answer_s)


class ConnectionCapTest(SocketsTestCase):
    service_env = {"TALLY_CONNECTIONS_MAX": "20", "TALLY_CONNECTIONS_PER_IP_MAX": "1000"}
    connections_max = 20

    def test_idle_keep_alive_connections_make_room_for_a_new_client(self):
        idle = []
        for _ in range(self.connections_max):
            sock = self.open()
            self.assertEqual(get_healthz(sock)[0], 200)
            idle.append(sock)
        # Full of idle keep-alive connections: a newcomer is still served...
        newcomer = self.open()
        answer = get_healthz(newcomer)
        self.assertIsNotNone(answer, "a new client got no answer while every slot was idle")
        self.assertEqual(answer[0], 200)
        # ...in the place of the connection idle the longest.
        self.assertTrue(closed_by_server(idle[0]), "the oldest idle connection stays open")
        self.assertEqual(get_healthz(idle[-1])[0], 200, "a younger idle connection was closed")

    def test_a_server_full_of_busy_connections_answers_503_with_retry_after(self):
        for _ in range(self.connections_max):
            partial_request(self.open())
        time.sleep(0.2)
        self.assertRefused503(self.open())
        # The busy ones go on: each may still finish its request.
        first = self.sockets[0]
        first.sendall(b"\r\n")
        self.assertEqual(read_response(first)[0], 200)

    def test_many_refusals_leave_the_server_serving(self):
        # Many refusals in a row leave the server serving normal clients.
        for _ in range(self.connections_max):
            partial_request(self.open())
        time.sleep(0.2)
        for _ in range(10):
            self.assertRefused503(self.open())
        for sock in self.sockets[:self.connections_max]:
            sock.close()
        del self.sockets[:self.connections_max]
        time.sleep(0.3)
        self.assertEqual(self.client.get("/healthz").status, 200)


class PerClientCapTest(SocketsTestCase):
    service_env = {"TALLY_CONNECTIONS_MAX": "100", "TALLY_CONNECTIONS_PER_IP_MAX": "5"}
    per_ip_max = 5

    def test_one_client_ip_cannot_take_more_than_its_share(self):
        for _ in range(self.per_ip_max):
            partial_request(self.open("127.0.0.1"))
        time.sleep(0.2)
        self.assertRefused503(self.open("127.0.0.1"))
        # Another client is not affected.
        other = self.open("127.0.0.2")
        self.assertEqual(get_healthz(other)[0], 200)

    def test_a_clients_own_idle_connection_gives_way(self):
        idle = []
        for _ in range(self.per_ip_max):
            sock = self.open("127.0.0.3")
            self.assertEqual(get_healthz(sock)[0], 200)
            idle.append(sock)
        newcomer = self.open("127.0.0.3")
        answer = get_healthz(newcomer)
        self.assertIsNotNone(answer, "the client's newest connection got no answer")
        self.assertEqual(answer[0], 200)
        self.assertTrue(closed_by_server(idle[0]))


class BufferBudgetTest(SocketsTestCase):
    # Room for about four 60 KB bodies in flight (plus read buffers).
    service_env = {"TALLY_BUFFERED_BYTES_MAX": str(280 * 1024)}
    body_bytes = 60_000

    def slow_body(self, source_ip="127.0.0.1"):
        sock = self.open(source_ip)
        sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n{\"a\":" % self.body_bytes)
        return sock

    def full_body_request(self):
        body = b'{"a":"' + b"x" * (self.body_bytes - 8) + b'"}'
        return (b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body)) + body

    def test_bodies_beyond_the_budget_get_503_and_the_room_comes_back(self):
        slow = [self.slow_body() for _ in range(4)]
        time.sleep(0.3)
        late = self.open()
        late.sendall(self.full_body_request())
        self.assertRefused503(late)
        # Small requests need no more than the read buffer they already hold.
        self.assertEqual(get_healthz(self.open())[0], 200)
        for sock in slow:
            sock.close()
        time.sleep(0.5)
        again = self.open()
        again.sendall(self.full_body_request())
        received, _ = read_until_close(again, prompt_answer_s)
        self.assertEqual(status_of(received), 405, received[:300])


class ConformanceTest(ServiceTestCase):

    def setUp(self):
        super().setUp()
        self.user_id, self.token = self.service.funded_user(5)

    def raw(self, data, timeout_s=prompt_answer_s):
        received, _ = harness.raw_exchange(self.service.port, data, read_timeout_s=timeout_s)
        return received

    def test_head_on_every_get_route_has_the_get_header_and_no_body(self):
        auth = b"Authorization: Bearer " + self.token.encode() + b"\r\n"
        for path in (b"/healthz", b"/readyz", b"/metrics", b"/v1/auth/me", b"/v1/me/balance",
                     b"/v1/me/ledger?limit=5"):
            with self.subTest(path=path):
                sock = connect(self.service.port)
                try:
                    sock.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: t\r\n" + auth + b"\r\n")
                    get = read_response(sock)
                    sock.sendall(b"HEAD " + path + b" HTTP/1.1\r\nHost: t\r\n" + auth + b"\r\n")
                    # A HEAD answer ends with its header: the next bytes on
                    # the connection are the next response.
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
                    sock.settimeout(harness.request_timeout_s)
                    data = b""
                    while data.count(b"\r\n\r\n") < 2 or not data.endswith(b'{"status":"ok"}'):
                        chunk = sock.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                finally:
                    sock.close()
                self.assertEqual(get[0], 200, get)
                head, _, rest = data.partition(b"\r\n\r\n")
                self.assertEqual(status_of(head), 200, head)
                self.assertTrue(rest.startswith(b"HTTP/1.1 200"), "HEAD sent a body: %r" % rest[:80])
                headers = dict((line.split(b":", 1)[0].strip().lower(), line.split(b":", 1)[1].strip())
                               for line in head.split(b"\r\n")[1:])
                self.assertEqual(headers[b"content-type"].decode(), get[1]["content-type"])
                if path != b"/metrics":  # the counters move between the two
                    self.assertEqual(int(headers[b"content-length"]), len(get[2]))

    def test_405_detail_names_the_methods_of_allow(self):
        for method, path in (("POST", "/healthz"), ("DELETE", "/v1/me/balance"),
                             ("GET", "/v1/me/charges")):
            with self.subTest(path=path):
                response = self.client.request(method, path)
                body = self.assertProblem(response, 405, "METHOD_NOT_ALLOWED")
                allow = response.header("Allow")
                self.assertEqual(body["detail"], "Allowed methods: " + allow)
                methods = [m.strip() for m in allow.split(",")]
                self.assertIn("OPTIONS", methods)
                if "GET" in methods:
                    self.assertIn("HEAD", methods)

    def test_empty_lines_before_the_request_line_are_ignored(self):
        received = self.raw(b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        self.assertEqual(status_of(received), 200, received)
        # Also between two requests on one connection (some clients send a
        # CRLF after a POST body).
        received = self.raw(b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nab\r\n"
                            b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        self.assertEqual(len(re.findall(rb"HTTP/1\.1 \d{3}", received)), 2, received)
        self.assertIn(b"HTTP/1.1 200", received)

    def test_absolute_form_targets_are_served(self):
        authority = b"127.0.0.1:%d" % self.service.port
        received = self.raw(b"GET http://" + authority + b"/healthz HTTP/1.1\r\nHost: " + authority +
                            b"\r\nConnection: close\r\n\r\n")
        self.assertEqual(status_of(received), 200, received)
        received = self.raw(b"GET HTTP://" + authority + b"/v1/me/ledger?limit=1 HTTP/1.1\r\nHost: t\r\n"
                            b"Authorization: Bearer " + self.token.encode() +
                            b"\r\nConnection: close\r\n\r\n")
        self.assertEqual(status_of(received), 200, received)
        body = json.loads(received.partition(b"\r\n\r\n")[2])
        self.assertEqual(len(body["data"]), 1)

    def test_an_unknown_method_with_an_unreadable_body_is_answered_and_the_server_lives(self):
        # Found by fuzz_request: this aborted the process (Beast throws on
        # setting the verb "unknown" while the refusal was built).
        for data, status in (
                (b"FOO /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 999999\r\n\r\n", 413),
                (b"BREW /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400)):
            with self.subTest(data=data):
                self.assertEqual(status_of(self.raw(data)), status)
                self.assertEqual(self.client.get("/healthz").status, 200, "the service died")
                self.client.close()

    def test_bare_lf_line_ends_are_answered_400_at_once(self):
        cases = {
            "chunked body": b"POST /v1/me/charges HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
                            b"Transfer-Encoding: chunked\r\n\r\n5\n{\"a\":\n0\n\n",
            "chunk after a good one": b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                                      b"2\r\nab\r\n3\nabc\n0\n\n",
            "header lines": b"GET /healthz HTTP/1.1\nHost: t\n\n",
        }
        for name, data in cases.items():
            with self.subTest(name):
                started = time.monotonic()
                received, closed = harness.raw_exchange(self.service.port, data,
                                                        read_timeout_s=prompt_answer_s)
                self.assertEqual(status_of(received), 400, received)
                self.assertIn(b'"BAD_REQUEST"', received)
                self.assertTrue(closed)
                self.assertLess(time.monotonic() - started, prompt_answer_s)
        # A well-formed chunked body with an LF inside its data is fine.
        received = self.raw(b"POST /healthz HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
                            b"Connection: close\r\n\r\n3\r\na\nb\r\n0\r\n\r\n")
        self.assertEqual(status_of(received), 405, received)


if __name__ == "__main__":
    unittest.main()
