"""API.md "Conventions/auth" and the Auth token rules as the credit endpoints
see them: bearer access tokens (HS256, iss, aud, exp with 30 s leeway, a
live session in sid), the admin token, and the binary's create-user /
mint-token commands. Tokens are forged here with hmac/hashlib and the
service's secret, over a real session (so only the forgery can fail them)."""

import base64
import json
import time
import unittest
import uuid

import harness
from harness import ServiceTestCase, access_claims, make_jwt

# API.md allows "a more precise code" than UNAUTHENTICATED for a bad token.
UNAUTHENTICATED_CODES = {"UNAUTHENTICATED", "INVALID_TOKEN", "TOKEN_EXPIRED", "SESSION_REVOKED"}


def decode_part(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


class AuthTest(ServiceTestCase):

    def assertUnauthenticated(self, response):
        self.assertProblem(response, 401, codes=UNAUTHENTICATED_CODES)
        challenge = response.header("WWW-Authenticate") or ""
        self.assertTrue(challenge.startswith("Bearer"), response)
        self.assertIn('error="invalid_token"', challenge, response)

    def test_valid_token_reads_the_balance(self):
        user_id, token = self.service.funded_user(7)
        response = self.client.get("/v1/me/balance", token=token)
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json(), {"available": 7, "reserved": 0})

    def test_missing_or_malformed_authorization_is_401(self):
        for value in (None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc", "Bearer abc",
                      "Bearer a.b.c", "Bearer ...."):
            with self.subTest(authorization=value):
                headers = {} if value is None else {"Authorization": value}
                self.assertUnauthenticated(self.client.get("/v1/me/balance", headers=headers))

    def test_forged_tokens_are_401_on_every_credit_endpoint(self):
        user_id, _ = self.service.funded_user(10)
        secret = self.service.jwt_secret
        now = int(time.time())
        sid = self.service.new_session(user_id)
        valid = access_claims(user_id, sid=sid)
        good = make_jwt(valid, secret)
        head, payload, signature = good.split(".")
        tampered_payload = harness.b64url(json.dumps(access_claims(str(uuid.uuid4()), sid=sid)).encode())
        forged = {
            "alg none": make_jwt(valid, secret, alg="none", signature=""),
            "alg none with signature": make_jwt(valid, secret, header={"alg": "none", "typ": "JWT"}),
            "alg HS512": make_jwt(valid, secret, alg="HS512"),
            "alg RS256 header": make_jwt(valid, secret, header={"alg": "RS256", "typ": "JWT"}),
            "no alg": make_jwt(valid, secret, header={"typ": "JWT"}),
            "wrong secret": make_jwt(valid, secret + "x"),
            "tampered payload": head + "." + tampered_payload + "." + signature,
            "signature stripped": head + "." + payload + ".",
            "wrong iss": make_jwt(access_claims(user_id, iss="someone-else", sid=sid), secret),
            "missing iss": make_jwt(access_claims(user_id, iss=None, sid=sid), secret),
            "wrong aud": make_jwt(access_claims(user_id, aud="other-api", sid=sid), secret),
            "missing aud": make_jwt(access_claims(user_id, aud=None, sid=sid), secret),
            "expired 40 s ago": make_jwt(access_claims(user_id, now=now - 940, sid=sid), secret),
            "expired long ago": make_jwt(access_claims(user_id, now=now - 86400, sid=sid), secret),
            "missing exp": make_jwt(access_claims(user_id, exp=None, sid=sid), secret),
            "sub not a uuid": make_jwt(access_claims(user_id, sub="alice", sid=sid), secret),
            "missing sub": make_jwt(access_claims(user_id, sub=None, sid=sid), secret),
            "nbf in the future": make_jwt(access_claims(user_id, sid=sid, nbf=now + 120), secret),
            "iat in the future": make_jwt(access_claims(user_id, sid=sid, iat=now + 120,
                                                        exp=now + 1020), secret),
        }
        for name, token in forged.items():
            with self.subTest(forgery=name):
                self.assertUnauthenticated(self.client.get("/v1/me/balance", token=token))
                self.assertUnauthenticated(self.client.get("/v1/me/ledger", token=token))
                self.assertUnauthenticated(harness.charge(self.client, token, 1))
        self.assertEqual(harness.balance(self.client, good)["available"], 10)

    def test_expired_within_the_30_s_leeway_is_accepted(self):
        user_id, _ = self.service.funded_user(3)
        token = self.service.token(user_id, ttl_s=-5)
        response = self.client.get("/v1/me/balance", token=token)
        self.assertEqual(response.status, 200, response)
        token = self.service.token(user_id, ttl_s=-40)
        self.assertUnauthenticated(self.client.get("/v1/me/balance", token=token))

    def test_a_token_must_name_a_live_session_of_its_user(self):
        user_id, good = self.service.funded_user(4)
        other_id, _ = self.service.funded_user(0)
        secret = self.service.jwt_secret
        other_sid = self.service.new_session(other_id)
        cases = {
            "no sid": (make_jwt(access_claims(user_id, sid=None), secret), {"UNAUTHENTICATED"}),
            "sid not a uuid": (make_jwt(access_claims(user_id, sid="session-1"), secret),
                               {"UNAUTHENTICATED"}),
            "sid a number": (make_jwt(access_claims(user_id, sid=7), secret), {"UNAUTHENTICATED"}),
            "unknown session": (make_jwt(access_claims(user_id, sid=str(uuid.uuid4())), secret),
                                {"SESSION_REVOKED"}),
            "another user's session": (make_jwt(access_claims(user_id, sid=other_sid), secret),
                                       {"SESSION_REVOKED", "UNAUTHENTICATED"}),
        }
        for name, (token, codes) in cases.items():
            with self.subTest(case=name):
                for response in (self.client.get("/v1/me/balance", token=token),
                                 self.client.get("/v1/me/ledger", token=token),
                                 self.client.get("/v1/auth/me", token=token),
                                 harness.charge(self.client, token, 1)):
                    self.assertProblem(response, 401, codes=codes)
                    self.assertIn('error="invalid_token"', response.header("WWW-Authenticate") or "",
                                  response)
        self.assertEqual(harness.balance(self.client, good), {"available": 4, "reserved": 0})

    def test_token_for_a_user_that_does_not_exist(self):
        token = self.service.token(str(uuid.uuid4()), sid=str(uuid.uuid4()))
        response = self.client.get("/v1/me/balance", token=token)
        self.assertIn(response.status, (401, 404), response)
        self.assertProblem(response, response.status)
        response = harness.charge(self.client, token, 1)
        self.assertIn(response.status, (401, 404), response)

    def test_admin_endpoints_need_the_admin_token(self):
        user_id, token = self.service.funded_user(10)
        path = "/v1/admin/users/%s/credits" % user_id
        for name, bearer in (("none", None), ("wrong", self.service.admin_token + "x"),
                             ("prefix", self.service.admin_token[:-1]), ("empty", "")):
            with self.subTest(admin_token=name):
                response = self.client.post(path, json_body={"amount": 5, "reason": "x"}, token=bearer,
                                            headers={"Idempotency-Key": uuid.uuid4().hex})
                self.assertProblem(response, 401)
        response = self.client.post(path, json_body={"amount": 5, "reason": "x"}, token=token,
                                    headers={"Idempotency-Key": uuid.uuid4().hex})
        self.assertIn(response.status, (401, 403), response)
        self.assertProblem(response, response.status)
        self.assertEqual(harness.balance(self.client, token)["available"], 10)

    def test_admin_token_is_not_a_user_token(self):
        self.assertUnauthenticated(self.client.get("/v1/me/balance", token=self.service.admin_token))

    def test_mint_token_command_issues_a_working_hs256_token(self):
        user_id = self.service.create_user()
        done = self.service.command("mint-token", "--user", user_id)
        self.assertEqual(done.returncode, 0, done.stderr)
        token = done.stdout.strip()
        head, claims, _ = token.split(".")
        self.assertEqual(decode_part(head)["alg"], "HS256")
        claims = decode_part(claims)
        for name in ("iss", "aud", "sub", "sid", "iat", "exp", "jti"):
            self.assertIn(name, claims)
        self.assertEqual(claims["iss"], "tally")
        self.assertIn(claims["aud"], ("tally-api", ["tally-api"]))
        self.assertEqual(claims["sub"], user_id)
        self.assertEqual(claims["exp"] - claims["iat"], 900)
        response = self.client.get("/v1/me/balance", token=token)
        self.assertEqual(response.status, 200, response)

        done = self.service.command("mint-token", "--user", user_id, "--ttl-s", "60")
        self.assertEqual(done.returncode, 0, done.stderr)
        claims = decode_part(done.stdout.strip().split(".")[1])
        self.assertEqual(claims["exp"] - claims["iat"], 60)

    def test_create_user_command_rejects_duplicates(self):
        email = "dup-%s@example.test" % uuid.uuid4().hex[:8]
        user_id = self.service.create_user(email=email)
        done = self.service.command("create-user", "--email", email)
        self.assertEqual(done.returncode, 1, (done.stdout, done.stderr))
        self.assertTrue(done.stderr.strip())
        done = self.service.command("create-user", "--id", user_id, "--email", "other-" + email)
        self.assertEqual(done.returncode, 1, (done.stdout, done.stderr))
        chosen = str(uuid.uuid4())
        done = self.service.command("create-user", "--id", chosen, "--email", "chosen-" + email)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertEqual(done.stdout.strip(), chosen)
        response = self.client.get("/v1/me/balance", token=self.service.token(chosen))
        self.assertEqual(response.status, 200, response)


class AdminApiOffTest(ServiceTestCase):
    """Without TALLY_ADMIN_TOKEN the admin API is off: no bearer value opens it."""

    service_env = {"TALLY_ADMIN_TOKEN": None}

    def test_admin_api_is_closed_to_everyone(self):
        user_id = self.service.create_user()
        token = self.service.token(user_id)
        path = "/v1/admin/users/%s/credits" % user_id
        for name, bearer in (("none", None), ("empty", ""), ("guess", "dev-admin-token"), ("user", token)):
            with self.subTest(bearer=name):
                response = self.client.post(path, json_body={"amount": 5, "reason": "x"}, token=bearer,
                                            headers={"Idempotency-Key": uuid.uuid4().hex})
                self.assertIn(response.status, (401, 403, 404), response)
                self.assertProblem(response, response.status)
        self.assertEqual(harness.balance(self.client, token), {"available": 0, "reserved": 0})


if __name__ == "__main__":
    unittest.main()
