"""API.md "Tenants and modules" over real HTTP, on SQLite and Postgres:
members and roles, access control on every tenant endpoint, atomic module
activation on a unique subdomain under truly overlapping requests, and a
restart that keeps everything."""

import datetime
import unittest
import uuid

from harness import (RFC3339_UTC_RE, UUID_RE, ServiceTestCase, logout, run_concurrently,
                     unique_email)


def unique_subdomain(prefix="shop"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


class TenantsTest(ServiceTestCase):

    # Helpers -----------------------------------------------------------------

    def user(self):
        """(user id, email, access token) of a new user."""
        email = unique_email("tenant")
        user_id = self.service.create_user(email)
        return user_id, email, self.service.token(user_id)

    def create_tenant(self, token, name="Acme"):
        response = self.client.post("/v1/tenants", {"name": name}, token=token)
        self.assertEqual(response.status, 201, response)
        return response.json()

    def add_member(self, token, tenant_id, email, role):
        return self.client.post("/v1/tenants/%s/members" % tenant_id,
                                {"email": email, "role": role}, token=token)

    def activate(self, token, tenant_id, subdomain, module="shop", client=None):
        return (client or self.client).post("/v1/tenants/%s/modules/activate" % tenant_id,
                                            {"module": module, "subdomain": subdomain}, token=token)

    def deactivate(self, token, tenant_id, client=None):
        return (client or self.client).post("/v1/tenants/%s/modules/deactivate" % tenant_id,
                                            token=token)

    def get_tenant(self, token, tenant_id):
        return self.client.get("/v1/tenants/%s" % tenant_id, token=token)

    def available(self, token, name):
        response = self.client.get("/v1/subdomains/%s" % name, token=token)
        self.assertEqual(response.status, 200, response)
        self.assertEqual(response.json()["name"], name)
        return response.json()["available"]

    def rows(self, sql):
        return [list(row) for row in self.service.query(sql)]

    def stored(self, sql_from_where):
        return self.service.count(sql_from_where)

    def assertHoldsNothing(self, tenant_id):
        """No module, no subdomain, no subscription, in the API and the store."""
        self.assertEqual(self.stored("subdomains WHERE tenant_id = '%s'" % tenant_id), 0)
        self.assertEqual(self.stored("subscriptions WHERE tenant_id = '%s'" % tenant_id), 0)
        rows = self.rows("SELECT active_module, subdomain FROM tenants WHERE id = '%s'" % tenant_id)
        self.assertEqual(rows, [["", ""]])

    # Create and read ---------------------------------------------------------

    def test_create_makes_the_caller_owner_and_me_lists_it(self):
        user_id, _, token = self.user()
        body = self.create_tenant(token, "Acme Shops")
        self.assertRegex(body["id"], UUID_RE)
        self.assertEqual(body["name"], "Acme Shops")
        self.assertEqual(body["owner_id"], user_id)
        self.assertIsNone(body["active_module"])
        self.assertIsNone(body["subdomain"])
        self.assertIsNone(body["subscription"])
        self.assertRegex(body["created_at"], RFC3339_UTC_RE)
        got = self.get_tenant(token, body["id"])
        self.assertEqual(got.status, 200, got)
        self.assertEqual(got.json(), body)
        me = self.client.get("/v1/auth/me", token=token)
        self.assertEqual(me.status, 200, me)
        self.assertIn({"id": body["id"], "name": "Acme Shops", "role": "owner"}, me.json()["tenants"])

    def test_name_must_be_1_to_100_characters(self):
        _, _, token = self.user()
        for name in ("", "x" * 101):
            response = self.client.post("/v1/tenants", {"name": name}, token=token)
            self.assertValidationFields(response, ["name"])
        self.assertEqual(self.create_tenant(token, "é" * 100)["name"], "é" * 100)

    def test_unknown_forbidden_and_invalid_ids(self):
        _, _, owner = self.user()
        _, _, stranger = self.user()
        tenant = self.create_tenant(owner)
        self.assertProblem(self.get_tenant(stranger, tenant["id"]), 403, "FORBIDDEN")
        self.assertProblem(self.get_tenant(owner, str(uuid.uuid4())), 404)
        self.assertProblem(self.get_tenant(owner, "not-a-uuid"), 400, "INVALID_ID")
        self.assertProblem(self.client.get("/v1/tenants/%s" % tenant["id"]), 401, "UNAUTHENTICATED")

    # Members and roles -------------------------------------------------------

    def test_members_and_roles(self):
        _, _, owner = self.user()
        admin_id, admin_email, admin = self.user()
        member_id, member_email, member = self.user()
        _, late_email, _ = self.user()
        _, _, stranger = self.user()
        tenant = self.create_tenant(owner, "Roles")
        tid = tenant["id"]
        added = self.add_member(owner, tid, admin_email, "admin")
        self.assertEqual(added.status, 201, added)
        self.assertEqual(added.json(), {"tenant_id": tid, "user_id": admin_id, "email": admin_email,
                                        "role": "admin"})
        # An admin may add members; a member may not.
        self.assertEqual(self.add_member(admin, tid, member_email, "member").status, 201)
        self.assertProblem(self.add_member(member, tid, late_email, "member"), 403, "FORBIDDEN")
        self.assertProblem(self.add_member(stranger, tid, late_email, "member"), 403, "FORBIDDEN")
        self.assertProblem(self.add_member(owner, tid, member_email, "admin"), 409, "ALREADY_MEMBER")
        self.assertProblem(self.add_member(owner, tid, unique_email("nobody"), "member"), 404,
                           "USER_NOT_FOUND")
        for role in ("owner", "boss", ""):
            self.assertValidationFields(self.add_member(owner, tid, late_email, role), ["role"])
        self.assertValidationFields(self.add_member(owner, tid, "not-an-email", "member"), ["email"])
        # Members see the tenant; /me lists it with their role.
        self.assertEqual(self.get_tenant(member, tid).status, 200)
        me = self.client.get("/v1/auth/me", token=member).json()
        self.assertIn({"id": tid, "name": "Roles", "role": "member"}, me["tenants"])
        # Member role: 403 on activate and deactivate, nothing changes.
        name = unique_subdomain()
        self.assertProblem(self.activate(member, tid, name), 403, "FORBIDDEN")
        self.assertProblem(self.deactivate(member, tid), 403, "FORBIDDEN")
        self.assertTrue(self.available(member, name))
        # Admin allowed: activate, then deactivate.
        self.assertEqual(self.activate(admin, tid, name).status, 200)
        self.assertProblem(self.deactivate(member, tid), 403, "FORBIDDEN")
        self.assertEqual(self.deactivate(admin, tid).status, 200)
        self.assertEqual(self.stored("tenant_members WHERE tenant_id = '%s'" % tid), 3)
        self.assertEqual(self.stored("tenant_members WHERE user_id = '%s'" % member_id), 1)

    def test_logged_out_session_is_refused_on_tenant_endpoints(self):
        user_id, _, _ = self.user()
        login = self.service.token(user_id)
        tenant = self.create_tenant(login)
        self.assertEqual(logout(self.client, login).status, 204)
        self.assertProblem(self.get_tenant(login, tenant["id"]), 401, "SESSION_REVOKED")
        self.assertProblem(self.activate(login, tenant["id"], unique_subdomain()), 401,
                           "SESSION_REVOKED")

    # Activation --------------------------------------------------------------

    def test_activate_validates_module_and_subdomain(self):
        _, _, owner = self.user()
        tid = self.create_tenant(owner)["id"]
        self.assertValidationFields(self.activate(owner, tid, unique_subdomain(), module="erp"),
                                    ["module"])
        for bad in ("ab", "-abc", "abc-", "Abc", "a_bc", "x" * 64, "www", "mail"):
            self.assertValidationFields(self.activate(owner, tid, bad), ["subdomain"])
        self.assertValidationFields(
            self.client.post("/v1/tenants/%s/modules/activate" % tid, {}, token=owner),
            ["module", "subdomain"])
        self.assertFalse(self.available(owner, "www"))
        self.assertProblem(self.client.get("/v1/subdomains/Not_Valid", token=owner), 422,
                           "VALIDATION_FAILED")
        self.assertHoldsNothing(tid)

    def test_activate_then_deactivate_frees_the_name_for_another_tenant(self):
        _, _, owner = self.user()
        _, _, other = self.user()
        tid = self.create_tenant(owner)["id"]
        other_tid = self.create_tenant(other)["id"]
        name = unique_subdomain()
        self.assertTrue(self.available(owner, name))
        response = self.activate(owner, tid, name, module="crm")
        self.assertEqual(response.status, 200, response)
        body = response.json()
        self.assertEqual(body["tenant_id"], tid)
        self.assertEqual(body["active_module"], "crm")
        self.assertEqual(body["subdomain"], name)
        self.assertEqual(body["subscription"]["plan"], "trial")
        self.assertEqual(body["subscription"]["status"], "trialing")
        ends = datetime.datetime.strptime(body["subscription"]["trial_ends_at"][:19],
                                          "%Y-%m-%dT%H:%M:%S")
        days = (ends - datetime.datetime.utcnow()).total_seconds() / 86400
        self.assertAlmostEqual(days, 14, delta=0.1)
        self.assertFalse(self.available(other, name))
        self.assertProblem(self.activate(other, other_tid, name), 409, "SUBDOMAIN_TAKEN")
        self.assertProblem(self.activate(owner, tid, unique_subdomain()), 409,
                           "MODULE_ALREADY_ACTIVE")
        got = self.get_tenant(owner, tid).json()
        self.assertEqual((got["active_module"], got["subdomain"]), ("crm", name))
        # Deactivate: name freed, subscription cancelled; twice is 409.
        off = self.deactivate(owner, tid)
        self.assertEqual(off.status, 200, off)
        self.assertIsNone(off.json()["active_module"])
        self.assertIsNone(off.json()["subdomain"])
        self.assertEqual(off.json()["subscription"]["status"], "cancelled")
        self.assertProblem(self.deactivate(owner, tid), 409, "INVALID_STATE")
        self.assertTrue(self.available(other, name))
        taken = self.activate(other, other_tid, name)
        self.assertEqual(taken.status, 200, taken)
        self.assertEqual(self.stored("subdomains WHERE name = '%s' AND tenant_id = '%s'"
                                     % (name, other_tid)), 1)
        self.assertEqual(self.stored("subscriptions WHERE tenant_id = '%s' AND status = 'cancelled'"
                                     % tid), 1)
        # The first tenant may activate again on a new name.
        self.assertEqual(self.activate(owner, tid, unique_subdomain()).status, 200)

    def test_deactivate_without_module_is_invalid_state(self):
        _, _, owner = self.user()
        tid = self.create_tenant(owner)["id"]
        self.assertProblem(self.deactivate(owner, tid), 409, "INVALID_STATE")

    def test_20_concurrent_activations_of_one_tenant_give_exactly_one(self):
        _, _, owner = self.user()
        tid = self.create_tenant(owner)["id"]
        names = [unique_subdomain("race") for _ in range(20)]
        responses = run_concurrently(
            [lambda c, n=n: self.activate(owner, tid, n, client=c) for n in names],
            self.service.port)
        statuses = sorted(r.status for r in responses)
        self.assertEqual(statuses, [200] + [409] * 19, responses)
        for response in responses:
            if response.status == 409:
                self.assertProblem(response, 409, "MODULE_ALREADY_ACTIVE")
        winner = [r.json() for r in responses if r.status == 200][0]
        self.assertEqual(self.stored("subdomains WHERE tenant_id = '%s'" % tid), 1)
        self.assertEqual(self.stored("subscriptions WHERE tenant_id = '%s'" % tid), 1)
        for name in names:
            self.assertEqual(self.available(owner, name), name != winner["subdomain"])

    def test_10_tenants_racing_for_one_subdomain_give_exactly_one(self):
        owners = [self.user()[2] for _ in range(10)]
        tenants = [self.create_tenant(token)["id"] for token in owners]
        name = unique_subdomain("contested")
        responses = run_concurrently(
            [lambda c, t=t, o=o: self.activate(o, t, name, client=c) for t, o in zip(tenants, owners)],
            self.service.port)
        statuses = sorted(r.status for r in responses)
        self.assertEqual(statuses, [200] + [409] * 9, responses)
        winners = [t for t, r in zip(tenants, responses) if r.status == 200]
        for tenant, response in zip(tenants, responses):
            if tenant in winners:
                continue
            self.assertProblem(response, 409, "SUBDOMAIN_TAKEN")
            self.assertHoldsNothing(tenant)
        self.assertEqual(self.rows("SELECT tenant_id FROM subdomains WHERE name = '%s'" % name),
                         [[winners[0]]])

    # Durability --------------------------------------------------------------

    def test_zz_a_restart_keeps_everything(self):
        owner_id, _, owner = self.user()
        member_id, member_email, _ = self.user()
        tid = self.create_tenant(owner, "Durable")["id"]
        self.assertEqual(self.add_member(owner, tid, member_email, "member").status, 201)
        name = unique_subdomain()
        self.assertEqual(self.activate(owner, tid, name, module="booking").status, 200)
        before = self.get_tenant(owner, tid).json()
        self.client.close()
        self.service.restart()
        self.client = self.service.client()
        owner = self.service.token(owner_id)
        member = self.service.token(member_id)
        after = self.get_tenant(member, tid)
        self.assertEqual(after.status, 200, after)
        self.assertEqual(after.json(), before)
        self.assertFalse(self.available(owner, name))
        self.assertProblem(self.activate(owner, tid, unique_subdomain()), 409, "MODULE_ALREADY_ACTIVE")
        self.assertProblem(self.activate(member, tid, unique_subdomain()), 403, "FORBIDDEN")
        me = self.client.get("/v1/auth/me", token=member).json()
        self.assertIn({"id": tid, "name": "Durable", "role": "member"}, me["tenants"])
        self.assertEqual(self.deactivate(owner, tid).status, 200)
        self.assertTrue(self.available(owner, name))


if __name__ == "__main__":
    unittest.main()
