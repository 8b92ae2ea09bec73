// actors/dispatch: a command that arrives as bytes (as it will from another
// node) is decoded and routed by key to the entity that owns it, through the
// real registry, user and identity actors, writer and reader.
#include "actors/dispatch.hpp"
#include "protocols/auth_tokens.hpp"
#include "protocols/wire.hpp"
#include "tests/actors/actor_fixture.hpp"

using namespace tally;
using namespace tally::test;

namespace {

/// Completions for whatever command an envelope holds: each stores its
/// outcome as a reply_body, the encodable form of every reply.
struct capture_body {
  std::shared_ptr<std::optional<reply_body>> answered = std::make_shared<std::optional<reply_body>>();

  template <class Result>
  reply<Result> operator()(reply_tag<Result>) const {
    return reply<Result>{[answered = answered](outcome<Result> result) {
      if (result.ok())
        answered->emplace(result.value());
      else
        answered->emplace(result.error());
    }};
  }
};

struct dispatch_fixture : actor_fixture {
  dispatch_fixture() {
    spawn_writer();
    registry = spawn_registry({spawn_reader()});
  }

  /// Encodes, decodes and dispatches `message`; the reply once run.
  capture_body send_as_bytes(const envelope& message) {
    auto decoded = decode_value<envelope>(encode_value(message));
    REQUIRE(decoded);
    capture_body done;
    dispatch(registry, std::move(*decoded), done);
    return done;
  }

  registry_actor registry;
};

} // namespace

TEST_CASE_METHOD(dispatch_fixture, "a decoded charge reaches its user and no other") {
  auto payer = new_user({10, 0});
  auto bystander = new_user({10, 0});
  auto done = send_as_bytes(
    envelope{payer, to_entity_command(
                      charge_request{session_of(payer), charge_command{3, "remote", {"k", "d"}}})});
  run_jobs();

  REQUIRE(done.answered->has_value());
  const auto& body = **done.answered;
  REQUIRE(std::holds_alternative<mutation_reply<charge_result>>(body));
  CHECK(std::get<mutation_reply<charge_result>>(body).result.available == 7);
  CHECK(db->committed_balance(payer) == balance{7, 0});
  CHECK(db->committed_balance(bystander) == balance{10, 0});
  CHECK(db->ledger(payer).size() == 1);
  CHECK(db->ledger(bystander).empty());
}

TEST_CASE_METHOD(dispatch_fixture, "a decoded command's failure comes back as data") {
  auto payer = new_user({2, 0});
  auto done = send_as_bytes(
    envelope{payer, to_entity_command(charge_request{session_of(payer), charge_command{3, "", {}}})});
  run_jobs();

  REQUIRE(done.answered->has_value());
  auto encoded = encode_value(**done.answered);  // the reply can travel back too
  auto body = decode_value<reply_body>(encoded);
  REQUIRE(body);
  REQUIRE(std::holds_alternative<failure>(*body));
  CHECK(std::get<failure>(*body).code == error_code::insufficient_credits);
  CHECK(db->committed_balance(payer) == balance{2, 0});
}

TEST_CASE_METHOD(dispatch_fixture, "a decoded identity command reaches the identity of its key") {
  std::string email = "remote@example.com";
  auto done = send_as_bytes(
    envelope{identity_id(identity_kind::email, email),
             to_entity_command(magic_link_request{email, {"r", "10.0.0.9"}})});
  run_jobs();

  REQUIRE(done.answered->has_value());
  REQUIRE(std::holds_alternative<login_challenge>(**done.answered));
  CHECK(std::get<login_challenge>(**done.answered).expires_in_s == 900);
  CHECK(db->outbox().size() == 1);
}

TEST_CASE_METHOD(dispatch_fixture, "commands are inspectable CAF values, not unsafe types") {
  // CAF's own serialisation is not how commands cross nodes (msgpack is),
  // but every command type must be a proper CAF value: serialise and load
  // one of each kind through CAF and compare the msgpack bytes.
  for (const auto& original :
       {to_entity_command(charge_request{random_uuid(), charge_command{4, "d", {"k", "x"}}}),
        to_entity_command(verify_code_request{"+15550001", "123456", {"r", "10.0.0.1"}})}) {
    std::vector<char> buffer;
    caf::binary_serializer sink{sys, buffer};
    auto copy = original;
    REQUIRE_FALSE(sink(copy));
    entity_command loaded;
    caf::binary_deserializer source{sys, buffer};
    REQUIRE_FALSE(source(loaded));
    CHECK(encode_value(loaded) == encode_value(original));
    CHECK_FALSE(caf::deep_to_string(original).empty());
  }
}
