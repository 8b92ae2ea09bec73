// http/internal_server: the one internal route, driven without sockets.
// The signature is checked before the body is decoded, the command goes to
// the local door only, and its answer (value, failure or "not mine")
// becomes 200 msgpack or 421.
#include <catch2/catch.hpp>

#include <optional>
#include <vector>

#include "http/http_handler.hpp"
#include "http/internal_server.hpp"
#include "protocols/arriving_commands.hpp"
#include "protocols/cluster_wire.hpp"
#include "protocols/wire.hpp"

using namespace tally;

namespace {

const std::string key = cluster_auth_key("the cluster's jwt secret");

/// Records what arrives; answers each command with `answer` (if set).
struct recording_door : arriving_commands {
  std::vector<envelope> served;
  std::optional<reply_body> answer;
  std::vector<completion> held;  ///< unanswered (no `answer`)
  void serve(envelope message, completion done) override {
    served.push_back(message);
    if (answer)
      deliver(done, *answer);
    else
      held.push_back(std::move(done));
  }
};

http_request post(std::string body, std::optional<std::string> tag) {
  http_request request{http::verb::post, std::string(internal_commands_path), 11};
  if (tag) request.set(cluster_auth_header, *tag);
  request.set(http::field::content_type, msgpack_content_type);
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

struct handler_fixture {
  recording_door door;
  std::shared_ptr<http_handler> handler = make_internal_handler(key, door, nullptr);
  std::optional<http_response> answered;
  int answers = 0;

  std::shared_ptr<in_flight_request> send(http_request request) {
    return handler->serve(std::move(request), [this](http_response r) { ++answers; answered = std::move(r); }, "10.0.0.2");
  }
};

std::string charge_body() {
  return encode_value(envelope{random_uuid(), to_entity_command(charge_request{random_uuid(), charge_command{2, "", {"k", "d"}}})});
}

} // namespace

TEST_CASE_METHOD(handler_fixture, "a signed envelope is served locally and answered 200 with the reply as msgpack") {
  door.answer = reply_body{mutation_reply<charge_result>{{random_uuid(), 2, 8}, false}};
  auto body = charge_body();
  send(post(body, cluster_auth_tag(key, body)));
  REQUIRE(door.served.size() == 1);
  REQUIRE(answered);
  CHECK(answered->result_int() == 200);
  CHECK((*answered)[http::field::content_type] == msgpack_content_type);
  auto reply = decode_value<reply_body>(answered->body());
  REQUIRE(reply);
  CHECK(std::get<mutation_reply<charge_result>>(*reply).result.available == 8);
}

TEST_CASE_METHOD(handler_fixture, "a domain failure is a 200 carrying the failure; not_shard_owner is 421") {
  door.answer = reply_body{failure{error_code::insufficient_credits, "no", 0}};
  auto body = charge_body();
  send(post(body, cluster_auth_tag(key, body)));
  REQUIRE(answered);
  CHECK(answered->result_int() == 200);
  CHECK(std::get<failure>(*decode_value<reply_body>(answered->body())).code == error_code::insufficient_credits);

  door.answer = reply_body{failure{error_code::not_shard_owner, "not mine", 0}};
  send(post(body, cluster_auth_tag(key, body)));
  CHECK(answered->result_int() == 421);
}

TEST_CASE_METHOD(handler_fixture, "without the right signature nothing is decoded or served: 401") {
  auto body = charge_body();
  send(post(body, std::nullopt));
  CHECK(answered->result_int() == 401);
  send(post(body, cluster_auth_tag(cluster_auth_key("another cluster"), body)));
  CHECK(answered->result_int() == 401);
  send(post(body, cluster_auth_tag(key, body + "!")));
  CHECK(answered->result_int() == 401);
  // Even garbage is refused as unsigned first, not as garbage.
  send(post("\xc1garbage", std::string("00")));
  CHECK(answered->result_int() == 401);
  CHECK(door.served.empty());
}

TEST_CASE_METHOD(handler_fixture, "a signed body that is not one envelope is 400; other paths 404, other methods 405") {
  for (std::string bad : {std::string("\xc1garbage"), std::string(), charge_body() + "x",
                          encode_value(reply_body{true})}) {
    send(post(bad, cluster_auth_tag(key, bad)));
    CHECK(answered->result_int() == 400);
  }
  auto wrong_path = post(charge_body(), std::nullopt);
  wrong_path.target("/v1/me/balance");
  send(wrong_path);
  CHECK(answered->result_int() == 404);
  auto wrong_method = post("", std::nullopt);
  wrong_method.method(http::verb::get);
  send(wrong_method);
  CHECK(answered->result_int() == 405);
  CHECK((*answered)[http::field::allow] == "POST");
  CHECK(door.served.empty());
}

TEST_CASE_METHOD(handler_fixture, "an arrival not answered by its deadline gets 503 once, and a late answer is dropped") {
  auto body = charge_body();
  auto pending = send(post(body, cluster_auth_tag(key, body)));
  CHECK(answers == 0);
  pending->expire();
  CHECK(answers == 1);
  CHECK(answered->result_int() == 503);
  pending->expire();
  CHECK(answers == 1);
}
