// protocols/cluster_wire: the signature on node-to-node bodies, and a
// command's answer turned into data on the owner and back into the
// caller's completion on the sender.
#include <catch2/catch.hpp>

#include <memory>
#include <optional>

#include "protocols/cluster_wire.hpp"
#include "protocols/wire.hpp"

using namespace tally;

TEST_CASE("a body's tag verifies under its key only, and any change breaks it") {
  auto key = cluster_auth_key("jwt secret of the cluster");
  CHECK(key != cluster_auth_key("another secret"));
  std::string body = encode_value(envelope{random_uuid(), to_entity_command(balance_request{random_uuid()})});
  auto tag = cluster_auth_tag(key, body);
  CHECK(tag.size() == 64);
  CHECK(cluster_auth_valid(key, body, tag));
  CHECK_FALSE(cluster_auth_valid(cluster_auth_key("another secret"), body, tag));
  CHECK_FALSE(cluster_auth_valid(key, body + "x", tag));
  CHECK_FALSE(cluster_auth_valid(key, body, ""));
  auto flipped = tag;
  flipped[0] = flipped[0] == '0' ? '1' : '0';
  CHECK_FALSE(cluster_auth_valid(key, body, flipped));
}

TEST_CASE("an answer crosses as a reply_body and reaches the waiting completion") {
  // Receiver: the completion for a charge, answering as data.
  auto command = to_entity_command(charge_request{random_uuid(), charge_command{3, "d", {"k", "x"}}});
  std::optional<std::string> wire;
  auto owner_side = completion_for(command, [&wire](reply_body body) { wire = encode_value(body); });
  REQUIRE(std::holds_alternative<reply<mutation_reply<charge_result>>>(owner_side));
  std::get<reply<mutation_reply<charge_result>>>(owner_side)(
    outcome<mutation_reply<charge_result>>{mutation_reply<charge_result>{{random_uuid(), 3, 7}, true}});
  REQUIRE(wire);

  // Sender: decode and deliver to the caller's own completion.
  std::optional<outcome<mutation_reply<charge_result>>> got;
  completion waiting{reply<mutation_reply<charge_result>>{[&got](outcome<mutation_reply<charge_result>> r) { got = r; }}};
  auto body = decode_value<reply_body>(*wire);
  REQUIRE(body);
  CHECK(deliver(waiting, std::move(*body)));
  REQUIRE(got);
  REQUIRE(got->ok());
  CHECK(got->value().result.available == 7);
  CHECK(got->value().replayed);
}

TEST_CASE("a domain failure crosses as data with its code and Retry-After") {
  auto command = to_entity_command(balance_request{random_uuid()});
  std::optional<reply_body> wire;
  auto owner_side = completion_for(command, [&wire](reply_body body) { wire = body; });
  fail(owner_side, failure{error_code::session_revoked, "gone", 0});
  REQUIRE(wire);
  std::optional<outcome<balance>> got;
  completion waiting{reply<balance>{[&got](outcome<balance> r) { got = r; }}};
  CHECK(deliver(waiting, *decode_value<reply_body>(encode_value(*wire))));
  REQUIRE(got);
  REQUIRE_FALSE(got->ok());
  CHECK(got->error().code == error_code::session_revoked);
}

TEST_CASE("a dropped owner-side completion still answers once, and a wrong result type fails") {
  int answers = 0;
  std::optional<reply_body> last;
  {
    auto dropped = completion_for(to_entity_command(balance_request{random_uuid()}),
                                  [&](reply_body body) { ++answers; last = body; });
  }
  CHECK(answers == 1);
  REQUIRE(std::holds_alternative<failure>(*last));

  std::optional<outcome<balance>> got;
  completion waiting{reply<balance>{[&got](outcome<balance> r) { got = r; }}};
  CHECK_FALSE(deliver(waiting, reply_body{true}));
  REQUIRE(got);
  CHECK(got->error().code == error_code::internal);
}
