// http/json_body: Content-Type, strict JSON parsing, and validation that
// reports every bad field with integers that must be JSON integers.
#include <catch2/catch.hpp>

#include "http/json_body.hpp"

using namespace tally;

TEST_CASE("application/json with optional parameters, any case") {
  for (auto type : {"application/json", "application/json; charset=utf-8", "Application/JSON",
                    " application/json ", "application/json;charset=UTF-8", "application/json ;x=y"}) {
    INFO(type);
    CHECK(is_json_content_type(type));
  }
  for (auto type : {"", "text/plain", "application/jsonx", "application/x-www-form-urlencoded",
                    "text/json", "application/json-patch+json", "application/ json", "json"}) {
    INFO(type);
    CHECK_FALSE(is_json_content_type(type));
  }
}

TEST_CASE("parse_json accepts one JSON value and nothing else") {
  CHECK(parse_json(R"({"amount": 1})").error == json_body_error::none);
  CHECK(parse_json("[1]").value.is_array());
  CHECK(parse_json("null").value.is_null());
  for (std::string body : {std::string(""), std::string(R"({"amount": )"),
                           std::string("{amount: 1}"), std::string(R"({"amount": 1} trailing)"),
                           std::string("\xff\xfe"), std::string("{\"amount\": 1\0}", 14),
                           std::string("{\"d\": \"\xc3\x28\"}")}) {
    INFO(body);
    CHECK(parse_json(body).error == json_body_error::malformed);
  }
}

TEST_CASE("a key twice in one object is refused, whatever its spelling or value") {
  for (auto body : {R"({"amount": 1, "amount": 1000000})", R"({"amount": 1, "amount": 1})",
                    R"({"a": {"amount": 1, "amount": 2}})", R"([{"x": 1}, {"amount": 1, "amount": 2}])",
                    R"({"amount": 1, "\u0061mount": 2})"}) {
    INFO(body);
    auto parsed = parse_json(body);
    CHECK(parsed.error == json_body_error::duplicate_key);
    CHECK(parsed.field == "amount");
  }
  // The same key in different objects, or as a value, is no duplicate.
  for (auto body : {R"({"amount": 1, "meta": {"amount": 2}})", R"([{"amount": 1}, {"amount": 2}])",
                    R"({"amount": "amount", "b": {"c": {}, "d": {}}, "c": 1})"}) {
    INFO(body);
    CHECK(parse_json(body).error == json_body_error::none);
  }
}

TEST_CASE("a number beyond double range is out of range, naming its field") {
  struct row {
    std::string body;
    std::string field;
  };
  for (const auto& [body, field] : {
         row{R"({"amount": 1e400})", "amount"},
         row{R"({"amount": -1e400})", "amount"},
         row{"{\"amount\": " + std::string(5000, '9') + "}", "amount"},
         row{"{\"amount\": -" + std::string(5000, '9') + "}", "amount"},
         row{R"({"reason": "r", "meta": {"n": [1, 2, 1e999]}})", "meta.n[2]"},
         row{R"({"list": [{"a": 1}, {"b": 1e309}]})", "list[1].b"},
         row{"1e400", "body"}}) {
    INFO(body.substr(0, 60));
    auto parsed = parse_json(body);
    CHECK(parsed.error == json_body_error::number_out_of_range);
    CHECK(parsed.field == field);
  }
  // Big but finite numbers parse (the validator then refuses non-integers).
  CHECK(parse_json("{\"amount\": 1" + std::string(300, '0') + "}").error == json_body_error::none);
  // Out of range after a syntax error is still malformed.
  CHECK(parse_json(R"({"a": } 1e400)").error == json_body_error::malformed);
}

TEST_CASE("deep nesting parses without blowing the stack") {
  std::string deep = std::string(20000, '[') + std::string(20000, ']');
  auto parsed = parse_json(deep);
  REQUIRE(parsed.error == json_body_error::none);
  CHECK(parsed.value.is_array());
  std::string deep_objects;
  for (int i = 0; i < 5000; ++i) deep_objects += R"({"a":)";
  deep_objects += "1" + std::string(5000, '}');
  CHECK(parse_json(deep_objects).error == json_body_error::none);
}

TEST_CASE("integers must be JSON integers within bounds") {
  auto doc = json::parse(R"({"ok": 5, "big": 18446744073709551615, "neg": -3, "float": 5.0,
    "text": "5", "bool": true, "null": null, "obj": {}, "arr": [5]})");
  field_validator v(doc);
  CHECK(v.integer("ok", 1, 10, true) == 5);
  CHECK(v.integer("neg", -10, 10, true) == -3);
  CHECK(v.ok());
  for (auto field : {"big", "float", "text", "bool", "obj", "arr"}) {
    INFO(field);
    field_validator one(doc);
    CHECK_FALSE(one.integer(field, 1, 10, true));
    REQUIRE(one.errors().size() == 1);
    CHECK(one.errors()[0].field == field);
  }
  field_validator bounds(doc);
  CHECK_FALSE(bounds.integer("ok", 6, 10, true));
  CHECK_FALSE(bounds.integer("neg", 0, 10, true));
  CHECK(bounds.errors().size() == 2);
}

TEST_CASE("absent fields: required is an error, optional (or null) is not") {
  auto doc = json::parse(R"({"n": null})");
  field_validator v(doc);
  CHECK_FALSE(v.integer("missing", 1, 2, false));
  CHECK_FALSE(v.text("n", 0, 5, false));
  CHECK(v.ok());
  CHECK_FALSE(v.integer("missing", 1, 2, true));
  CHECK_FALSE(v.integer("n", 1, 2, true));
  CHECK(v.errors().size() == 2);
}

TEST_CASE("text length counts characters, not bytes") {
  auto doc = json::parse(R"({"two": "\u00e9\u00e9", "num": 5, "empty": ""})");
  field_validator v(doc);
  CHECK(v.text("two", 2, 2, true) == "\xc3\xa9\xc3\xa9");
  CHECK(v.ok());
  CHECK_FALSE(v.text("two", 3, 5, true));
  CHECK_FALSE(v.text("num", 0, 5, true));
  CHECK_FALSE(v.text("empty", 1, 5, true));
  CHECK(v.errors().size() == 3);
  CHECK(utf8_length("a\xc3\xa9\xe2\x82\xac") == 3);
}

TEST_CASE("validation collects every bad field, in order") {
  auto doc = json::parse(R"({"amount": "7", "reason": 7})");
  field_validator v(doc);
  v.integer("amount", 1, 10, true);
  v.text("reason", 1, 500, true);
  v.integer("absent", 1, 10, true);
  REQUIRE(v.errors().size() == 3);
  CHECK(v.errors()[0].field == "amount");
  CHECK(v.errors()[1].field == "reason");
  CHECK(v.errors()[2].field == "absent");
  for (const auto& e : v.errors()) CHECK_FALSE(e.message.empty());
}
