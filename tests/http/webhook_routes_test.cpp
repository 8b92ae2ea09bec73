// http/webhook_routes.cpp and http/webhook_payload.cpp through the request
// pipeline over a fake gateway: the signature is judged before the body is
// read, and only a verified, well-formed event reaches the gateway.
#include "handler_fixture.hpp"

#include "http/webhook_payload.hpp"
#include "protocols/stripe_signature.hpp"

using namespace tally;
using namespace tally::test;

namespace {

constexpr const char* webhook_secret = "whsec_unit";
constexpr const char* user_id = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b";

std::string event(const std::string& credits = "\"100\"", const std::string& type = "checkout.session.completed") {
  return R"({"id":"evt_1","type":")" + type + R"(","data":{"object":{"id":"cs_1","metadata":{"user_id":")"
         + user_id + R"(","credits":)" + credits + "}}}}";
}

std::string signed_header(const std::string& body, int64_t at = unix_now_s()) {
  return "t=" + std::to_string(at) + ",v1=" + stripe_v1_signature(webhook_secret, at, body);
}

struct webhook_fixture : fixture {
  webhook_fixture() : fixture([](http_config& c) { c.webhook.secret = webhook_secret; }) {}

  http_response deliver(const std::string& body, const std::string& signature) {
    std::vector<header> headers;
    if (!signature.empty()) headers.push_back({"Stripe-Signature", signature});
    return post_json("/v1/webhooks/payments", body, headers);
  }
};

} // namespace

TEST_CASE_METHOD(webhook_fixture, "a verified delivery reaches the gateway with its metadata") {
  gate.webhook_value = webhook_outcome{webhook_status::processed, {}};
  auto body = event();
  auto response = deliver(body, signed_header(body));
  CHECK(response.result_int() == 200);
  CHECK(nlohmann::json::parse(response.body()) == nlohmann::json{{"status", "processed"}});
  REQUIRE(gate.webhook_calls.size() == 1);
  const auto& delivery = gate.webhook_calls[0];
  CHECK(delivery.event_id == "evt_1");
  CHECK(delivery.object_id == "cs_1");
  CHECK(to_string(delivery.user) == user_id);
  CHECK(delivery.credits == 100);
  CHECK(delivery.problems.empty());
}

TEST_CASE_METHOD(webhook_fixture, "the signature is judged before the body is parsed") {
  std::string not_json = "{not json";
  problem(deliver(not_json, "t=1,v1=" + std::string(64, 'a')), 400, "INVALID_SIGNATURE");
  problem(deliver(not_json, ""), 400, "INVALID_SIGNATURE");
  // Signed garbage is the body's own problem.
  problem(deliver(not_json, signed_header(not_json)), 400, "MALFORMED_JSON");
  auto body = event();
  problem(deliver(body + " ", signed_header(body)), 400, "INVALID_SIGNATURE");
  problem(deliver(body, signed_header(body, unix_now_s() - 301)), 400, "INVALID_SIGNATURE");
  CHECK(gate.webhook_calls.empty());
  auto text = registry.render();
  CHECK(text.find("tally_webhook_signature_failures_total{reason=\"mismatch\"} 1") != std::string::npos);
  CHECK(text.find("tally_webhook_signature_failures_total{reason=\"missing\"} 1") != std::string::npos);
  CHECK(text.find("tally_webhook_signature_failures_total{reason=\"stale\"} 2") != std::string::npos);
}

TEST_CASE("without a secret the endpoint is 503") {
  fixture f;
  auto body = event();
  auto response = f.post_json("/v1/webhooks/payments", body, {{"Stripe-Signature", signed_header(body)}});
  problem(response, 503, "WEBHOOKS_NOT_CONFIGURED");
  CHECK(f.gate.webhook_calls.empty());
}

TEST_CASE_METHOD(webhook_fixture, "an event without an id or type is 422 and never reaches the gateway") {
  std::string body = R"({"type":"checkout.session.completed"})";
  auto refused = problem(deliver(body, signed_header(body)), 422, "VALIDATION_FAILED");
  CHECK(error_fields(refused) == std::set<std::string>{"id"});
  CHECK(gate.webhook_calls.empty());
}

TEST_CASE_METHOD(webhook_fixture, "a rejected outcome is 422 naming its fields") {
  gate.webhook_value = webhook_outcome{webhook_status::rejected, {{"data.object.metadata.user_id", "no such user"}}};
  auto body = event();
  auto refused = problem(deliver(body, signed_header(body)), 422, "VALIDATION_FAILED");
  CHECK(error_fields(refused) == std::set<std::string>{"data.object.metadata.user_id"});
}

TEST_CASE_METHOD(webhook_fixture, "the admin view renders the record; unknown is 404") {
  gate.webhook_event_value = webhook_event_view{
    true, webhook_event_row{webhook_event_key("evt_1"), "evt_1", "checkout.session.completed",
                            webhook_status::processed, 3, 1'700'000'000'000'000, 0}};
  auto response = get("/v1/admin/webhooks/payments/evt_1", {{"Authorization", std::string("Bearer ") + test_admin_token}});
  REQUIRE(response.result_int() == 200);
  auto view = nlohmann::json::parse(response.body());
  CHECK(view["event_id"] == "evt_1");
  CHECK(view["status"] == "processed");
  CHECK(view["deliveries"] == 3);
  CHECK(view["first_seen_at"] == "2023-11-14T22:13:20Z");
  CHECK(view["processed_at"].is_null());
  problem(get("/v1/admin/webhooks/payments/evt_1"), 401, "UNAUTHENTICATED");
  gate.webhook_event_value = webhook_event_view{};
  problem(get("/v1/admin/webhooks/payments/evt_2", {{"Authorization", std::string("Bearer ") + test_admin_token}}),
          404, "NOT_FOUND");
}

TEST_CASE("payload metadata problems are named, per field") {
  auto read = [](const std::string& text) {
    return read_webhook_payload(nlohmann::json::parse(text), 0);
  };
  auto good = read(event());
  CHECK(good.errors.empty());
  CHECK(good.delivery.problems.empty());
  for (const auto& credits : {"\"0\"", "\"1000000001\"", "\"-1\"", "\"1e3\"", "\" 5\"", "100", "\"\""}) {
    INFO(credits);
    auto bad = read(event(credits));
    REQUIRE(bad.delivery.problems.size() == 1);
    CHECK(bad.delivery.problems[0].field == "data.object.metadata.credits");
  }
  CHECK(read(event("\"1000000000\"")).delivery.credits == 1'000'000'000);
  auto missing = read(R"({"id":"e","type":"payment_intent.succeeded","data":{"object":{}}})");
  CHECK(missing.delivery.problems.size() == 3);
  // Other types are not read beyond id and type.
  auto other = read(R"({"id":"e","type":"customer.created"})");
  CHECK(other.errors.empty());
  CHECK(other.delivery.problems.empty());
}
