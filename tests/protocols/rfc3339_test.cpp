// protocols/rfc3339: UTC timestamps out, RFC 3339 in (with offsets and fractions).
#include <catch2/catch.hpp>

#include "protocols/rfc3339.hpp"

using namespace tally;

namespace {
constexpr int64_t second = 1'000'000;
}

TEST_CASE("formatting: UTC with Z, fractions only when present") {
  CHECK(format_rfc3339(0) == "1970-01-01T00:00:00Z");
  CHECK(format_rfc3339(1'795'456'800 * second) == "2026-11-23T18:00:00Z");
  CHECK(format_rfc3339(1'795'456'800 * second + 250'000) == "2026-11-23T18:00:00.250Z");
  CHECK(format_rfc3339(1'795'456'800 * second + 7) == "2026-11-23T18:00:00.000007Z");
  CHECK(format_rfc3339(951'782'400 * second) == "2000-02-29T00:00:00Z");  // leap day
  CHECK(format_rfc3339(-1) == "1969-12-31T23:59:59.999999Z");
}

TEST_CASE("parsing: Z, offsets, fractions") {
  CHECK(parse_rfc3339("2026-11-23T18:00:00Z") == 1'795'456'800 * second);
  CHECK(parse_rfc3339("2026-11-23T19:30:00+01:30") == 1'795'456'800 * second);
  CHECK(parse_rfc3339("2026-11-23T16:00:00-02:00") == 1'795'456'800 * second);
  CHECK(parse_rfc3339("2026-11-23t18:00:00.25z") == 1'795'456'800 * second + 250'000);
  CHECK(parse_rfc3339("2026-11-23T18:00:00.1234567Z") == 1'795'456'800 * second + 123'456);
}

TEST_CASE("parsing rejects what is not RFC 3339") {
  for (auto text : {"", "2026-11-23", "2026-11-23 18:00:00Z", "2026-11-23T18:00:00",
                    "2026-13-01T00:00:00Z", "2026-02-29T00:00:00Z", "2026-11-31T00:00:00Z",
                    "2026-11-23T24:00:00Z", "2026-11-23T18:00:00.Z", "2026-11-23T18:00:00+0100",
                    "2026-11-23T18:00:00Zjunk", "20261123T180000Z"}) {
    INFO(text);
    CHECK_FALSE(parse_rfc3339(text));
  }
}

TEST_CASE("format and parse round-trip") {
  for (int64_t at : {int64_t{0}, int64_t{1}, 1'795'456'800 * second + 123'456,
                     4'102'444'799 * second}) {
    CHECK(parse_rfc3339(format_rfc3339(at)) == at);
  }
}

TEST_CASE("formatting: the epoch, leap years and times before 1970") {
  CHECK(format_rfc3339(0, rfc3339_fraction::milliseconds) == "1970-01-01T00:00:00.000Z");
  CHECK(format_rfc3339(1'709'164'800 * second) == "2024-02-29T00:00:00Z");
  CHECK(format_rfc3339(1'709'251'199 * second) == "2024-02-29T23:59:59Z");
  CHECK(format_rfc3339(-2'203'891'200 * second) == "1900-03-01T00:00:00Z");  // 1900: no Feb 29
  CHECK(format_rfc3339(-2'203'891'201 * second) == "1900-02-28T23:59:59Z");
  CHECK(format_rfc3339(-86'400 * second) == "1969-12-31T00:00:00Z");
  CHECK(format_rfc3339(-1'000) == "1969-12-31T23:59:59.999Z");
  CHECK(format_rfc3339(253'402'300'799 * second + 999'999) == "9999-12-31T23:59:59.999999Z");
}

TEST_CASE("formatting milliseconds: always three digits, truncated, as log lines want") {
  CHECK(format_rfc3339(1'795'456'800 * second, rfc3339_fraction::milliseconds) ==
        "2026-11-23T18:00:00.000Z");
  CHECK(format_rfc3339(1'795'456'800 * second + 250'000, rfc3339_fraction::milliseconds) ==
        "2026-11-23T18:00:00.250Z");
  CHECK(format_rfc3339(1'795'456'800 * second + 999'999, rfc3339_fraction::milliseconds) ==
        "2026-11-23T18:00:00.999Z");
  CHECK(format_rfc3339(1'795'456'800 * second + 7, rfc3339_fraction::milliseconds) ==
        "2026-11-23T18:00:00.000Z");
  CHECK(format_rfc3339(-1, rfc3339_fraction::milliseconds) == "1969-12-31T23:59:59.999Z");
}
