// protocols/json_writer: commas at every nesting level, strings escaped,
// integers exact across int64, and the shapes the response builders use.
#include <catch2/catch.hpp>

#include <limits>

#include "protocols/json_writer.hpp"

using namespace tally;

TEST_CASE("empty object and empty array have no commas") {
  std::string out;
  json_writer json(out);
  json.begin_array().begin_object().end_object().begin_array().end_array().end_array();
  CHECK(out == "[{},[]]");
}

TEST_CASE("commas separate keys and values at every level of nested objects and arrays") {
  std::string out;
  json_writer json(out);
  json.begin_object();
  json.key("a").integer(1);
  json.key("b").begin_object().key("c").begin_array().integer(1).integer(2).end_array();
  json.key("d").begin_object().end_object().end_object();
  json.key("e").begin_array();
  json.begin_object().key("x").null().end_object();
  json.begin_object().key("y").boolean(true).key("z").boolean(false).end_object();
  json.begin_array().end_array();
  json.string("s");
  json.end_array();
  json.key("f").string("last");
  json.end_object();
  CHECK(out == R"({"a":1,"b":{"c":[1,2],"d":{}},"e":[{"x":null},{"y":true,"z":false},[],"s"],)"
               R"("f":"last"})");
}

TEST_CASE("a writer appends to what the string already holds") {
  std::string out = "prefix ";
  json_writer json(out);
  json.begin_object().key("k").string("v").end_object();
  CHECK(out == R"(prefix {"k":"v"})");
}

TEST_CASE("strings escape quotes, backslashes and control characters, not UTF-8") {
  std::string out;
  json_writer json(out);
  json.begin_array();
  json.string(R"(say "hi" \ bye)");
  json.string("line\nreturn\rtab\t");
  json.string(std::string_view("nul\0bell\x07" "esc\x1b" "del\x7f" "us\x1f", 20));
  json.string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");  // café € 😀 stay as bytes
  json.string("");
  json.end_array();
  CHECK(out == "[\"say \\\"hi\\\" \\\\ bye\","
               "\"line\\nreturn\\rtab\\t\","
               "\"nul\\u0000bell\\u0007esc\\u001bdel\\u007fus\\u001f\","
               "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\","
               "\"\"]");
}

TEST_CASE("keys are escaped like strings") {
  std::string out;
  json_writer json(out);
  json.begin_object().key("a\"b\n").integer(0).end_object();
  CHECK(out == R"({"a\"b\n":0})");
}

TEST_CASE("integers: zero, negative and the int64 extremes") {
  std::string out;
  json_writer json(out);
  json.begin_array();
  json.integer(0).integer(-1).integer(1'000'000'000'000);
  json.integer(std::numeric_limits<int64_t>::max());
  json.integer(std::numeric_limits<int64_t>::min());
  json.end_array();
  CHECK(out == "[0,-1,1000000000000,9223372036854775807,-9223372036854775808]");
}

TEST_CASE("string_or_null writes null for an empty string") {
  std::string out;
  json_writer json(out);
  json.begin_object().key("a").string_or_null("").key("b").string_or_null("x").end_object();
  CHECK(out == R"({"a":null,"b":"x"})");
}

TEST_CASE("fixed: the given decimals, null when not finite") {
  std::string out;
  json_writer json(out);
  json.begin_array();
  json.fixed(1.5, 3).fixed(-0.0004, 3).fixed(2.0, 0);
  json.fixed(std::numeric_limits<double>::infinity(), 3);
  json.fixed(std::numeric_limits<double>::quiet_NaN(), 3);
  json.fixed(std::numeric_limits<double>::max(), 3);
  json.end_array();
  std::string head = "[1.500,-0.000,2,null,null,";
  REQUIRE(out.rfind(head, 0) == 0);
  // The largest double is written whole: 309 digits, not cut off.
  auto largest = out.substr(head.size());
  CHECK(largest.rfind("17976931348623157", 0) == 0);
  CHECK(largest.size() == 309 + 4 + 1);
  CHECK(largest.substr(309) == ".000]");
}

TEST_CASE("timestamps are RFC 3339 strings") {
  std::string out;
  json_writer json(out);
  json.begin_object();
  json.key("at").timestamp(1'795'456'800'000'000);
  json.key("ms").timestamp(1'795'456'800'000'007, rfc3339_fraction::milliseconds);
  json.end_object();
  CHECK(out == R"({"at":"2026-11-23T18:00:00Z","ms":"2026-11-23T18:00:00.000Z"})");
}
