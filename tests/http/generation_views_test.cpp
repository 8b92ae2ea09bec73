// tests/http/generation_views_test.cpp: the wire side of generations
// (http/generation_views.cpp): params checked against the catalog with
// defaults filled in, the list cursor, and the bodies' field order.
#include <catch2/catch.hpp>

#include "http/generation_views.hpp"

using namespace tally;

namespace {

const model_info& doc_writer() {
  static const auto catalog = default_generation_catalog();
  return *catalog.find("doc-writer");
}

} // namespace

TEST_CASE("params: absent or null take every default") {
  std::vector<field_error> errors;
  CHECK(canonical_params(doc_writer(), nullptr, errors) == std::string(R"({"target_pages":50})"));
  nlohmann::json null_value;
  CHECK(canonical_params(doc_writer(), &null_value, errors) == std::string(R"({"target_pages":50})"));
  CHECK(errors.empty());
}

TEST_CASE("params: in-bounds integers are kept, each bad field is named") {
  std::vector<field_error> errors;
  auto params = nlohmann::json::parse(R"({"target_pages": 3})");
  CHECK(canonical_params(doc_writer(), &params, errors) == std::string(R"({"target_pages":3})"));
  for (auto bad : {R"({"target_pages": 2})", R"({"target_pages": 1001})", R"({"target_pages": "5"})",
                   R"({"target_pages": 5.0})", R"({"target_pages": true})", R"({"pages": 5})", R"([1])"}) {
    std::vector<field_error> found;
    auto value = nlohmann::json::parse(bad);
    CHECK(!canonical_params(doc_writer(), &value, found));
    REQUIRE(found.size() == 1);
  }
  std::vector<field_error> both;
  auto two = nlohmann::json::parse(R"({"target_pages": 0, "colour": 1})");
  CHECK(!canonical_params(doc_writer(), &two, both));
  CHECK(both.size() == 2);
}

TEST_CASE("cursor: round-trips, refuses what it did not make") {
  auto id = random_uuid();
  generation_query query;
  REQUIRE(decode_generation_cursor(encode_generation_cursor(1'700'000'000'000'000, id), query));
  CHECK(query.before_created_at == 1'700'000'000'000'000);
  CHECK(query.before_id == id);
  for (auto bad : {"", "zz", "MTIz", "bm90OmEtdXVpZA"})
    CHECK(!decode_generation_cursor(bad, query));
}

TEST_CASE("bodies: the 202 and the generation keep API.md's field order") {
  generation_created created{random_uuid(), "chat-small", 1, 0, 900'000'000, 9, 1};
  auto body = render_generation_created(created);
  CHECK(body.find(R"("status":"pending","model_id":"chat-small","price":1,"created_at")") != std::string::npos);
  generation_row row;
  row.status = generation_status::failed;
  row.error = "interrupted";
  row.params_json = R"({"target_pages":50})";
  auto shown = render_generation(row);
  CHECK(shown.find(R"("params":{"target_pages":50},"result_url":null,"error":"interrupted")") != std::string::npos);
}
