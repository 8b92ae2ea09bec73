// protocols/wire: every command, reply and record round-trips through the one
// msgpack codec derived from its field list, and decoding is strict.
#include <catch2/catch.hpp>

#include "protocols/codec.hpp"
#include "protocols/commands.hpp"
#include "protocols/wire.hpp"

using namespace tally;

namespace {

/// Encodes, decodes and encodes again: the bytes must match, and must differ
/// from a default value's (the sample sets its fields).
template <class T>
T round_trip(const T& value) {
  auto bytes = encode_value(value);
  auto decoded = decode_value<T>(bytes);
  REQUIRE(decoded);
  CHECK(encode_value(*decoded) == bytes);
  CHECK(bytes != encode_value(T{}));
  // Strict: a prefix is never a value, nor are trailing bytes.
  CHECK_FALSE(decode_value<T>(std::string_view(bytes).substr(0, bytes.size() - 1)));
  CHECK_FALSE(decode_value<T>(bytes + '\0'));
  return *decoded;
}

const uuid user_id = random_uuid();
const uuid session_id = random_uuid();
const request_origin origin{"req-1", "203.0.113.9"};

ledger_entry sample_entry() {
  return {random_uuid(), 7, ledger_type::charge, 3, 40, 2, "ref", 1'700'000'000'000'001};
}

user_view sample_user() { return {user_id, "a@example.com", "+15550001", 12345}; }

} // namespace

TEST_CASE("every user command round-trips with its fields") {
  auto balance = round_trip(balance_request{session_id});
  CHECK(balance.session == session_id);

  ledger_query query{20, int64_t{99}, ledger_type::grant};
  auto ledger = round_trip(ledger_request{session_id, query});
  CHECK(ledger.query.limit == 20);
  CHECK(ledger.query.before_seq == 99);
  CHECK(ledger.query.type == ledger_type::grant);

  auto charge = round_trip(charge_request{session_id, charge_command{5, "image", {"k1", "d1"}}});
  CHECK(charge.command.amount == 5);
  CHECK(charge.command.description == "image");
  CHECK(charge.command.idem.key == "k1");
  CHECK(charge.command.idem.request_digest == "d1");

  auto credit = round_trip(credit_request{credit_command{-4, "refund", {"k2", "d2"}}});
  CHECK(credit.command.amount == -4);
  CHECK(credit.command.reason == "refund");

  CHECK(round_trip(me_request{session_id}).session == session_id);
  auto logout = round_trip(logout_request{session_id, origin});
  CHECK(logout.origin.client_ip == "203.0.113.9");
  auto refresh = round_trip(refresh_request{session_id, "tok", origin});
  CHECK(refresh.token == "tok");
  CHECK(refresh.origin.request_id == "req-1");
  CHECK(round_trip(open_session_request{"code", origin}).method == "code");
}

TEST_CASE("every identity command round-trips with its fields") {
  CHECK(round_trip(magic_link_request{"a@example.com", origin}).email == "a@example.com");
  CHECK(round_trip(verify_link_request{"token", origin}).token == "token");
  CHECK(round_trip(code_request{"+15550001", origin}).phone == "+15550001");
  auto verify = round_trip(verify_code_request{"+15550001", "123456", origin});
  CHECK(verify.code == "123456");
  CHECK(verify.origin.client_ip == "203.0.113.9");
}

TEST_CASE("an envelope keeps its key and its command's alternative") {
  envelope original{user_id, to_entity_command(charge_request{session_id, charge_command{2, "", {}}})};
  auto decoded = round_trip(original);
  CHECK(decoded.key == user_id);
  CHECK(decoded.kind() == entity_kind::user);
  REQUIRE(std::holds_alternative<user_command>(decoded.command));
  const auto& of_user = std::get<user_command>(decoded.command);
  REQUIRE(std::holds_alternative<charge_request>(of_user));
  CHECK(std::get<charge_request>(of_user).command.amount == 2);

  envelope login{random_uuid(), to_entity_command(verify_code_request{"+15550001", "000000", origin})};
  CHECK(round_trip(login).kind() == entity_kind::identity);
}

TEST_CASE("every reply round-trips with its fields") {
  auto fail = round_trip(failure{error_code::insufficient_credits, "not enough", 3});
  CHECK(fail.code == error_code::insufficient_credits);
  CHECK(fail.retry_after_s == 3);
  auto bal = round_trip(balance{10, 4});
  CHECK((bal == balance{10, 4}));

  ledger_page page{{sample_entry(), sample_entry()}, int64_t{6}};
  auto decoded_page = round_trip(page);
  REQUIRE(decoded_page.entries.size() == 2);
  CHECK(decoded_page.entries[0].id == page.entries[0].id);
  CHECK(decoded_page.entries[0].type == ledger_type::charge);
  CHECK(decoded_page.entries[0].created_at == 1'700'000'000'000'001);
  CHECK(decoded_page.next_before_seq == 6);

  auto charged = round_trip(mutation_reply<charge_result>{{random_uuid(), 3, 9}, true});
  CHECK(charged.replayed);
  CHECK(charged.result.available == 9);
  CHECK(round_trip(mutation_reply<credit_result>{{INT64_MAX, 1}, true}).result.available
        == INT64_MAX);

  auto me = round_trip(me_view{sample_user(), {{random_uuid(), "Acme", "owner"}}});
  CHECK(me.user.email == "a@example.com");
  REQUIRE(me.tenants.size() == 1);
  CHECK(me.tenants[0].role == "owner");

  auto grant = round_trip(session_grant{session_id, "refresh", sample_user()});
  CHECK(grant.refresh_token == "refresh");
  CHECK(grant.user.phone == "+15550001");
  CHECK(round_trip(login_challenge{900, "dbg"}).expires_in_s == 900);
}

TEST_CASE("a reply body keeps its alternative") {
  reply_body body = failure{error_code::rate_limited, "slow down", 30};
  auto decoded = decode_value<reply_body>(encode_value(body));
  REQUIRE(decoded);
  REQUIRE(std::holds_alternative<failure>(*decoded));
  CHECK(std::get<failure>(*decoded).retry_after_s == 30);

  reply_body yes = true;
  auto decoded_bool = decode_value<reply_body>(encode_value(yes));
  REQUIRE(decoded_bool);
  CHECK(std::get<bool>(*decoded_bool));
}

TEST_CASE("every record round-trips with its fields") {
  user_snapshot snapshot{user_row{user_id, "a@example.com", "", 9}, {8, 2}, 5, 3, {}, true};
  snapshot.recent_idempotency.push_back({user_id, "key", "digest", 201, "bytes", 77});
  auto snap = round_trip(snapshot);
  CHECK(snap.owner_epoch == 3);
  REQUIRE(snap.recent_idempotency.size() == 1);
  CHECK(snap.recent_idempotency[0].status == 201);
  CHECK(snap.older_idempotency_in_store);

  write_batch batch;
  batch.balances.push_back({user_id, 2, {5, 1}, 9, 100});
  batch.ledger.push_back({user_id, sample_entry(), "desc"});
  batch.idempotency.push_back({user_id, "k", "d", 200, "r", 1});
  batch.new_users.push_back({user_id, "e@x.io", "", 5});
  batch.identities.push_back(
    {random_uuid(), identity_kind::phone, "+15550001", user_id, 11, 4, 12});
  batch.magic_links.push_back({"hash", random_uuid(), 1, 2, 3});
  batch.login_codes.push_back({random_uuid(), "hmac", 1, 2, 3, 4, true});
  batch.sessions.push_back({session_id, user_id, "h1", "h0", 1, 2, 3, 4});
  batch.refresh_tokens.push_back({"h2", session_id, user_id, 6});
  batch.outbox.push_back({random_uuid(), "sms", "+15550001", "code 123456", 7});
  batch.audit.push_back({random_uuid(), 8, "login_succeeded", "req", user_id, session_id, "ip", "code"});
  auto decoded = round_trip(batch);
  CHECK(decoded.record_count() == batch.record_count());
  CHECK(decoded.identities[0].kind == identity_kind::phone);
  CHECK(decoded.login_codes[0].locked);
  CHECK(decoded.sessions[0].previous_refresh_hash == "h0");
  CHECK(decoded.audit[0].detail == "code");

  auto identity = round_trip(identity_snapshot{batch.identities[0], batch.login_codes[0]});
  REQUIRE(identity.code);
  CHECK(identity.code->failures == 3);
}

TEST_CASE("decoding refuses another type's bytes and garbage") {
  CHECK_FALSE(decode_value<charge_request>(encode_value(balance_request{session_id})));
  CHECK_FALSE(decode_value<balance_request>(encode_value(balance{1, 2})));
  CHECK_FALSE(decode_value<envelope>(""));
  CHECK_FALSE(decode_value<envelope>("\xc1garbage"));
  // A variant index past the last alternative.
  msgpack::sbuffer buffer;
  msgpack::packer<msgpack::sbuffer> out(buffer);
  out.pack_array(2);
  out.pack(user_id);
  out.pack_array(2);
  out.pack(99);
  out.pack_array(0);
  CHECK_FALSE(decode_value<envelope>(std::string(buffer.data(), buffer.size())));
}

// -- generations ----------------------------------------------------------------------

namespace {

generation_row sample_row() {
  generation_row row{random_uuid(), random_uuid(), "doc-writer", 10, "prompt", R"({"target_pages":50})",
                     generation_status::failed, "", "interrupted", "key", 1, 2, 3};
  return row;
}

} // namespace

TEST_CASE("generation commands round-trip inside an envelope") {
  generation_command command{"veo-lite", "a cat", "{}", 20, {"key", "digest"}};
  auto create = round_trip(create_generation_request{random_uuid(), command});
  CHECK(create.command.price == 20);
  CHECK(create.command.idem.request_digest == "digest");
  generation_query query{10, generation_status::processing, true, int64_t{5}, random_uuid()};
  CHECK(round_trip(list_generations_request{random_uuid(), query}).query.active_only);
  CHECK(round_trip(generation_answer_request{random_uuid(), {true, "https://r", {}}}).answer.result_url == "https://r");
  CHECK(round_trip(expire_generations_request{42}).requested_at == 42);
  envelope message{random_uuid(), to_entity_command(cancel_generation_request{random_uuid(), random_uuid()})};
  auto decoded = round_trip(message);
  CHECK(std::holds_alternative<cancel_generation_request>(std::get<user_command>(decoded.command)));
}

TEST_CASE("generation results and records round-trip with their fields") {
  auto row = round_trip(sample_row());
  CHECK(row.status == generation_status::failed);
  CHECK(row.error == "interrupted");
  auto page = round_trip(generation_page{{sample_row(), sample_row()}, int64_t{7}, random_uuid()});
  CHECK(page.generations.size() == 2);
  write_batch batch;
  batch.generations.push_back(sample_row());
  CHECK(round_trip(batch).generations.size() == 1);
  user_snapshot snapshot;
  snapshot.owner_epoch = 1;
  snapshot.active_generations.push_back(sample_row());
  CHECK(round_trip(snapshot).active_generations.size() == 1);
}

TEST_CASE("a stored 202 of a create decodes back exactly") {
  generation_created created{random_uuid(), "chat-small", 1, 100, 200, 9, 1};
  auto decoded = decode_generation_created(encode(created));
  REQUIRE(decoded);
  CHECK(decoded->id == created.id);
  CHECK(decoded->timeout_at == 200);
  CHECK(decoded->reserved == 1);
  CHECK_FALSE(decode_generation_created(encode(charge_result{random_uuid(), 1, 2})));
}

TEST_CASE("every webhook command and reply round-trips with its fields") {
  webhook_delivery delivery{"evt_1", "checkout.session.completed", "cs_1", user_id, 250,
                            {{"data.object.metadata.credits", "bad"}}, 1'700'000'000'000'000};
  auto delivered = round_trip(webhook_delivery_request{delivery});
  CHECK(delivered.delivery.event_id == "evt_1");
  CHECK(delivered.delivery.user == user_id);
  CHECK(delivered.delivery.credits == 250);
  REQUIRE(delivered.delivery.problems.size() == 1);
  CHECK(delivered.delivery.problems[0].message == "bad");

  webhook_event_row row{webhook_event_key("evt_1"), "evt_1", "checkout.session.completed",
                        webhook_status::duplicate, 3, 11, 12};
  auto topup = round_trip(topup_request{"cs_1", 250, row});
  CHECK(topup.event.status == webhook_status::duplicate);
  CHECK(topup.event.deliveries == 3);
  CHECK(topup.object_id == "cs_1");

  webhook_settle_request settle{7, 2, true, topup_result{true, "evt_1", {5, 1}, 99}, failure{}};
  auto settled = round_trip(settle);
  CHECK(settled.activation == 7);
  CHECK(settled.topped_up.by_event == "evt_1");
  CHECK(settled.topped_up.processed_at == 99);
  CHECK(round_trip(webhook_event_request{"evt_2"}).event_id == "evt_2");

  reply_body view = webhook_event_view{true, row};
  auto decoded = decode_value<reply_body>(encode_value(view));
  REQUIRE(decoded);
  CHECK(std::get<webhook_event_view>(*decoded).row.processed_at == 12);
}

TEST_CASE("webhook keys are name-based and distinct per namespace") {
  CHECK(webhook_event_key("evt_1") == webhook_event_key("evt_1"));
  CHECK(webhook_event_key("evt_1") != webhook_event_key("evt_2"));
  CHECK(webhook_event_key("x") != payment_object_key("x"));
}

TEST_CASE("every tenant and subdomain command, reply and record round-trips with its fields") {
  auto tenant = random_uuid();
  CHECK(round_trip(create_tenant_request{user_id, "Acme"}).name == "Acme");
  CHECK(round_trip(get_tenant_request{user_id}).caller == user_id);
  auto add = round_trip(add_member_request{user_id, session_id, "admin"});
  CHECK(add.user == session_id);
  CHECK(add.role == "admin");
  auto activate = round_trip(activate_module_request{user_id, "shop", "my-shop"});
  CHECK(activate.subdomain == "my-shop");
  CHECK(round_trip(deactivate_module_request{user_id}).caller == user_id);
  auto answer = round_trip(reservation_answer_request{
    7, "my-shop", false, failure{error_code::subdomain_taken, "taken", 0}});
  CHECK(answer.attempt == 7);
  CHECK(answer.refusal.code == error_code::subdomain_taken);
  CHECK(round_trip(subdomain_status_request{"my-shop"}).name == "my-shop");
  CHECK(round_trip(reserve_subdomain_request{"my-shop", tenant}).tenant == tenant);
  CHECK(round_trip(confirm_subdomain_request{"my-shop", tenant}).tenant == tenant);
  CHECK(round_trip(release_subdomain_request{"my-shop", tenant}).name == "my-shop");
  CHECK(round_trip(check_session_request{session_id}).session == session_id);
  CHECK(round_trip(membership_changed_request{{tenant, "Acme", "member"}}).membership.role
        == "member");
  CHECK(round_trip(find_user_request{"a@example.com"}).email == "a@example.com");
  envelope routed{subdomain_key("my-shop"), to_entity_command(reserve_subdomain_request{"my-shop", tenant})};
  CHECK(round_trip(routed).kind() == entity_kind::subdomain);

  tenant_view view{tenant, "Acme", user_id, "crm", "my-shop",
                   subscription_view{"trial", "trialing", 99}, 5, session_id, "admin"};
  auto decoded_view = round_trip(view);
  REQUIRE(decoded_view.subscription);
  CHECK(decoded_view.subscription->trial_ends_at == 99);
  CHECK(decoded_view.member_role == "admin");
  CHECK(round_trip(subdomain_view{"my-shop", true}).available);
  CHECK(round_trip(subdomain_reservation{"my-shop", tenant}).tenant == tenant);
  CHECK(round_trip(user_lookup{user_id}).user == user_id);

  write_batch batch;
  batch.tenants.push_back({tenant, "Acme", user_id, "shop", "my-shop", 2, 3});
  batch.tenant_members.push_back({tenant, user_id, "owner", 4});
  batch.subdomains.push_back({"my-shop", tenant, true, 5});
  batch.subscriptions.push_back({random_uuid(), tenant, "shop", "trial", "trialing", 6, 7, 8});
  auto decoded = round_trip(batch);
  CHECK(decoded.record_count() == 4);
  CHECK(decoded.subdomains[0].held);
  CHECK(round_trip(tenant_snapshot{batch.tenants[0], batch.tenant_members, batch.subscriptions[0]})
          .members.size() == 1);
}
