// tests/actors/tenant_decisions_test.cpp: the tenant's decisions alone:
// who may do what (the one access decision), member and module state, the
// trial's status, and whether a subdomain is free.
#include <catch2/catch.hpp>

#include "actors/tenant_decisions.hpp"
#include "protocols/tenants.hpp"

using namespace tally;

namespace {

constexpr tenant_role every_role[] = {tenant_role::none, tenant_role::member, tenant_role::admin,
                                      tenant_role::owner};
constexpr tenant_action mutations[] = {tenant_action::add_member, tenant_action::activate_module,
                                       tenant_action::deactivate_module};

uuid id(unsigned char last) {
  uuid value{};
  value.data[15] = last;
  return value;
}

} // namespace

TEST_CASE("roles parse as the API names them, nothing else") {
  CHECK(parse_tenant_role("owner") == tenant_role::owner);
  CHECK(parse_tenant_role("admin") == tenant_role::admin);
  CHECK(parse_tenant_role("member") == tenant_role::member);
  for (auto bad : {"", "Owner", "none", "boss", "admin "}) CHECK_FALSE(parse_tenant_role(bad));
  for (auto role : every_role)
    if (role != tenant_role::none) CHECK(parse_tenant_role(to_string(role)) == role);
}

TEST_CASE("a non-member may do nothing, not even view") {
  CHECK(decide_access(tenant_role::none, tenant_action::view) == error_code::forbidden);
  for (auto action : mutations) CHECK(decide_access(tenant_role::none, action) == error_code::forbidden);
}

TEST_CASE("a member may view only") {
  CHECK(decide_access(tenant_role::member, tenant_action::view) == error_code::none);
  for (auto action : mutations)
    CHECK(decide_access(tenant_role::member, action) == error_code::forbidden);
}

TEST_CASE("admins and owners may do everything") {
  for (auto role : {tenant_role::admin, tenant_role::owner}) {
    CHECK(decide_access(role, tenant_action::view) == error_code::none);
    for (auto action : mutations) CHECK(decide_access(role, action) == error_code::none);
  }
}

TEST_CASE("only admin and member can be given; owner never") {
  CHECK(assignable_role(tenant_role::admin));
  CHECK(assignable_role(tenant_role::member));
  CHECK_FALSE(assignable_role(tenant_role::owner));
  CHECK_FALSE(assignable_role(tenant_role::none));
}

TEST_CASE("adding a member: unknown user, already a member, or new") {
  CHECK(decide_add_member(false, tenant_role::none) == error_code::user_not_found);
  for (auto role : {tenant_role::member, tenant_role::admin, tenant_role::owner})
    CHECK(decide_add_member(true, role) == error_code::already_member);
  CHECK(decide_add_member(true, tenant_role::none) == error_code::none);
}

TEST_CASE("one module per tenant: activation needs none active and none in flight") {
  CHECK(decide_activation(false, false) == error_code::none);
  CHECK(decide_activation(true, false) == error_code::module_already_active);
  CHECK(decide_activation(false, true) == error_code::module_already_active);
  CHECK(decide_activation(true, true) == error_code::module_already_active);
}

TEST_CASE("deactivation needs an active module") {
  CHECK(decide_deactivation(true) == error_code::none);
  CHECK(decide_deactivation(false) == error_code::invalid_state);
}

TEST_CASE("a trial past trial_ends_at reads expired; other statuses as stored") {
  CHECK(subscription_status("trialing", 100, 100) == "trialing");
  CHECK(subscription_status("trialing", 100, 101) == "expired");
  CHECK(subscription_status("cancelled", 100, 101) == "cancelled");
  CHECK(subscription_status("cancelled", 100, 50) == "cancelled");
}

TEST_CASE("a subdomain is free for a tenant unless held or reserved by another") {
  auto a = id(1);
  auto b = id(2);
  uuid nobody{};
  CHECK(subdomain_free_for(nobody, nobody, a));
  // Held by another: taken. Held by the asker itself: a stale hold (a
  // tenant reserves only without a module), free for it alone.
  CHECK_FALSE(subdomain_free_for(b, nobody, a));
  CHECK(subdomain_free_for(a, nobody, a));
  CHECK_FALSE(subdomain_free_for(a, nobody, nobody));
  CHECK_FALSE(subdomain_free_for(a, b, a));
  // Reserved by another: taken; by the same tenant: free for it (a renewal).
  CHECK_FALSE(subdomain_free_for(nobody, b, a));
  CHECK(subdomain_free_for(nobody, a, a));
  // Availability asks for nobody in particular: any reservation counts.
  CHECK_FALSE(subdomain_free_for(nobody, a, nobody));
  CHECK(subdomain_free_for(nobody, nobody, nobody));
}

TEST_CASE("subdomain syntax is exactly API.md's regex") {
  for (auto good : {"abc", "a1b", "my-shop", "0-0", "a23456789012345678901234567890123456789012345678901234567890123"})
    CHECK(subdomain_syntax_ok(good));
  for (auto bad : {"", "a", "ab", "-ab", "ab-", "Abc", "a_b", "a.b", "ab c", "ä-b",
                   "a234567890123456789012345678901234567890123456789012345678901234"})
    CHECK_FALSE(subdomain_syntax_ok(bad));
}

TEST_CASE("subdomain keys are name-based: the same on every node, distinct per name") {
  CHECK(subdomain_key("shop-one") == subdomain_key("shop-one"));
  CHECK(subdomain_key("shop-one") != subdomain_key("shop-two"));
  CHECK(subdomain_key("shop-one").version() == boost::uuids::uuid::version_name_based_sha1);
}
