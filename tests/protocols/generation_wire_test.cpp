// Generations on the wire: every generation command, result and record
// round-trips through the msgpack codec derived from its field list, and
// the stored 202 of a create decodes back (protocols/codec.cpp).
#include <catch2/catch.hpp>

#include "protocols/codec.hpp"
#include "protocols/commands.hpp"
#include "protocols/wire.hpp"

using namespace tally;

namespace {

template <class T>
T round_trip(const T& value) {
  auto bytes = encode_value(value);
  auto decoded = decode_value<T>(bytes);
  REQUIRE(decoded);
  CHECK(encode_value(*decoded) == bytes);
  CHECK(bytes != encode_value(T{}));
  CHECK_FALSE(decode_value<T>(std::string_view(bytes).substr(0, bytes.size() - 1)));
  return *decoded;
}

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
