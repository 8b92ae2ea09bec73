#!/usr/bin/env python3
"""Writes the seed corpus fuzz/corpus/<target>/ (small, checked in).

Run again after changing a seed; libFuzzer's own finds stay in build-fuzz/.
Tokens are signed with fuzz/fuzz_secrets.hpp's key and expire in 2100, so the
request fuzzer reaches the authenticated endpoints.
"""

import base64
import hashlib
import hmac
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
JWT_SECRET = b"fuzz-jwt-secret"
ADMIN = b"fuzz-admin-token"
USER = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"
SESSION = "0b8e4b5e-8c1c-4a52-9f3e-00000000000a"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def jwt(claims, header=None):
    head = json.dumps(header or {"alg": "HS256", "typ": "JWT"}).encode()
    body = json.dumps(claims).encode()
    signing = b64(head) + b"." + b64(body)
    return signing + b"." + b64(hmac.new(JWT_SECRET, signing, hashlib.sha256).digest())


CLAIMS = {"iss": "tally", "aud": "tally-api", "sub": USER, "sid": SESSION, "iat": 1700000000,
          "exp": 4102444800, "jti": "j1"}
TOKEN = jwt(CLAIMS)


def request(method, target, headers=(), body=b"", piece=255):
    lines = [b"%s %s HTTP/1.1" % (method, target), b"Host: fuzz"]
    lines += list(headers)
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    return bytes([piece]) + b"\r\n".join(lines) + b"\r\n\r\n" + body


auth = b"Authorization: Bearer " + TOKEN
admin = b"Authorization: Bearer " + ADMIN
json_type = b"Content-Type: application/json"
seeds = {
    "fuzz_request": [
        request(b"GET", b"/healthz"),
        request(b"HEAD", b"/readyz", piece=0),
        request(b"GET", b"/v1/me/balance", [auth]),
        request(b"GET", b"/v1/me/ledger?limit=2&cursor=MTA&type=charge", [auth], piece=7),
        request(b"POST", b"/v1/me/charges", [auth, json_type, b"Idempotency-Key: k1"],
                b'{"amount": 5, "description": "x"}'),
        request(b"POST", b"/v1/admin/users/%s/credits" % USER.encode(),
                [admin, json_type, b'Idempotency-Key: "k2"'], b'{"amount": -3, "reason": "r"}'),
        request(b"POST", b"/v1/auth/magic-link", [json_type], b'{"email": "A@Example.com"}'),
        request(b"POST", b"/v1/auth/code/verify", [json_type], b'{"phone": "+15551234567", "code": "123456"}'),
        request(b"POST", b"/v1/auth/refresh", [json_type], b'{"refresh_token": "abc"}'),
        request(b"OPTIONS", b"/v1/me/charges", [b"Origin: https://app.example.com",
                                                b"Access-Control-Request-Method: POST"]),
        bytes([3]) + b"\r\nGET http://fuzz/healthz HTTP/1.1\r\nHost: fuzz\r\n\r\n"
                     b"POST /v1/auth/logout HTTP/1.1\r\nHost: fuzz\r\n" + auth + b"\r\n\r\n",
        bytes([1]) + b"POST /v1/me/charges HTTP/1.1\r\nHost: fuzz\r\nTransfer-Encoding: chunked\r\n" +
        auth + b"\r\n" + json_type + b"\r\nIdempotency-Key: c\r\n\r\n5\r\n{\"amo\r\n"
        b"b\r\nunt\": 1}  \r\n0\r\nX-Trailer: t\r\n\r\n",
        bytes([9]) + b"GET /healthz HTTP/1.0\r\n\r\n",
        # Found by the first run: an unknown method with a refused body aborted.
        bytes([255]) + b"FOO /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 999999\r\n\r\n",
    ],
    "fuzz_json_body": [
        b'{"amount": 5, "description": "caf\\u00e9"}',
        b'{"amount": 1e400}',
        b'{"amount": 1, "amount": 2}',
        b'{"email": "  User.Name+tag@Example.COM ", "phone": "+15551234567", "code": "123456"}',
        b'{"a": [1, 2.5, -0, true, null, {"b": "\\ud83d\\ude00"}]}',
        b'{"token": "' + b"x" * 600 + b'"}',
    ],
    "fuzz_jwt": [
        b"\x00" + TOKEN,
        b"\x00Bearer " + TOKEN,
        b"\x00" + jwt(CLAIMS, {"alg": "none"}),
        b"\x01" + json.dumps({"alg": "HS256"}).encode() + b"\n" + json.dumps(CLAIMS).encode(),
        b"\x01" + json.dumps({"alg": "HS256", "typ": "JWT"}).encode() + b"\n" +
        json.dumps(dict(CLAIMS, aud=["x", "tally-api"], nbf=1.5, exp=1.9e9)).encode(),
        b"\x01{\"alg\":\"HS512\"}\n{}",
    ],
    "fuzz_idempotency_key": [b"charge-1", b'"quoted key"', b'"abc', b"", b"a" * 255,
                             b'"' + b"b" * 255 + b'"', b"k\x7f"],
    "fuzz_ledger_cursor": [b"MTA", b"OTIyMzM3MjAzNjg1NDc3NTgwNw", b"MDA", b"LTE", b"MTA=", b""],
    "fuzz_query_string": [b"/v1/me/ledger?limit=50&cursor=MTA&type=grant",
                          b"http://h:8080/x?limit=%32%30",
                          b"HTTPS://h?x=%zz&y=a+b", b"/?&&=&limit",
                          b"httP://"],  # found by the first run: Beast's iequals over-read
}

for target, inputs in seeds.items():
    directory = os.path.join(HERE, "corpus", target)
    os.makedirs(directory, exist_ok=True)
    for old in os.listdir(directory):
        os.remove(os.path.join(directory, old))
    for data in inputs:
        name = hashlib.sha1(data).hexdigest()
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)
