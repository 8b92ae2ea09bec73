// http/problem: one table maps every problem and every domain error to a
// status, a stable code and a /problems/<kebab-code> type.
#include <catch2/catch.hpp>

#include <set>

#include <nlohmann/json.hpp>

#include "http/problem.hpp"

using namespace tally;

namespace {

std::string kebab(std::string_view code) {
  std::string out;
  for (char c : code) out += c == '_' ? '-' : static_cast<char>(std::tolower(c));
  return out;
}

} // namespace

TEST_CASE("every problem code has a distinct code, a kebab type and a sane status") {
  std::set<std::string_view> codes;
  for (size_t i = 0; i < problem_code_count; ++i) {
    const auto& info = describe(static_cast<problem_code>(i));
    INFO(info.code);
    CHECK(codes.insert(info.code).second);
    CHECK(info.type == "/problems/" + kebab(info.code));
    CHECK(info.status >= 400);
    CHECK(info.status <= 599);
    CHECK_FALSE(info.title.empty());
    // Retry-After exactly where API.md promises it: 503 and 429.
    CHECK(info.retry_after == (info.status == 503 || info.status == 429));
  }
}

TEST_CASE("the table rows are where the enum says") {
  CHECK(describe(problem_code::bad_request).code == "BAD_REQUEST");
  CHECK(describe(problem_code::unauthenticated).status == 401);
  CHECK(describe(problem_code::method_not_allowed).status == 405);
  CHECK(describe(problem_code::payload_too_large).status == 413);
  CHECK(describe(problem_code::unsupported_media_type).status == 415);
  CHECK(describe(problem_code::headers_too_large).status == 431);
  CHECK(describe(problem_code::invalid_idempotency_key).code == "INVALID_IDEMPOTENCY_KEY");
  CHECK(describe(problem_code::store_unavailable).code == "STORE_UNAVAILABLE");
  CHECK(describe(problem_code::rate_limited).status == 429);
  CHECK(describe(problem_code::rate_limited).retry_after);
  for (auto code : {problem_code::invalid_token, problem_code::token_expired,
                    problem_code::invalid_code, problem_code::code_locked,
                    problem_code::code_expired, problem_code::refresh_token_reused,
                    problem_code::session_revoked}) {
    INFO(describe(code).code);
    CHECK(describe(code).status == 401);
    CHECK_FALSE(describe(code).retry_after);
  }
}

TEST_CASE("every domain error_code maps to the status API.md gives it") {
  struct row {
    error_code error;
    int status;
    std::string_view code;
  };
  // Walks the whole enum (none .. rate_limited): a new error_code without a
  // row here fails the count check below.
  const row rows[] = {
    {error_code::none, 500, "INTERNAL"},
    {error_code::insufficient_credits, 402, "INSUFFICIENT_CREDITS"},
    {error_code::idempotency_key_reused, 422, "IDEMPOTENCY_KEY_REUSED"},
    {error_code::idempotency_key_in_use, 409, "IDEMPOTENCY_KEY_IN_USE"},
    {error_code::user_not_found, 404, "USER_NOT_FOUND"},
    {error_code::overloaded, 503, "OVERLOADED"},
    {error_code::store_unavailable, 503, "STORE_UNAVAILABLE"},
    {error_code::validation_failed, 422, "VALIDATION_FAILED"},
    {error_code::internal, 500, "INTERNAL"},
    {error_code::shutting_down, 503, "OVERLOADED"},
    {error_code::unauthenticated, 401, "UNAUTHENTICATED"},
    {error_code::invalid_token, 401, "INVALID_TOKEN"},
    {error_code::token_expired, 401, "TOKEN_EXPIRED"},
    {error_code::invalid_code, 401, "INVALID_CODE"},
    {error_code::code_locked, 401, "CODE_LOCKED"},
    {error_code::code_expired, 401, "CODE_EXPIRED"},
    {error_code::refresh_token_reused, 401, "REFRESH_TOKEN_REUSED"},
    {error_code::session_revoked, 401, "SESSION_REVOKED"},
    {error_code::rate_limited, 429, "RATE_LIMITED"},
  };
  CHECK(std::size(rows) == static_cast<size_t>(error_code::rate_limited) + 1);
  for (size_t i = 0; i < std::size(rows); ++i) {
    INFO(to_string(rows[i].error));
    CHECK(static_cast<size_t>(rows[i].error) == i);
    const auto& info = describe(problem_for(rows[i].error));
    CHECK(info.status == rows[i].status);
    CHECK(info.code == rows[i].code);
  }
}

TEST_CASE("a problem body is problem+json with the request id") {
  auto body = nlohmann::json::parse(
    render_problem(problem_code::insufficient_credits, "need 5 more", "req-1"));
  CHECK(body["type"] == "/problems/insufficient-credits");
  CHECK(body["status"] == 402);
  CHECK(body["code"] == "INSUFFICIENT_CREDITS");
  CHECK(body["detail"] == "need 5 more");
  CHECK(body["request_id"] == "req-1");
  CHECK(body["title"].is_string());
  CHECK_FALSE(body.contains("errors"));
}

TEST_CASE("an empty detail falls back to the title; 422 lists every error, escaped") {
  auto body = nlohmann::json::parse(render_problem(
    problem_code::validation_failed, {}, "r\"1",
    {{"amount", "must be \"an\" integer"}, {"description", "must be a string\n"}}));
  CHECK(body["detail"] == body["title"]);
  CHECK(body["request_id"] == "r\"1");
  REQUIRE(body["errors"].size() == 2);
  CHECK(body["errors"][0]["field"] == "amount");
  CHECK(body["errors"][0]["message"] == "must be \"an\" integer");
  CHECK(body["errors"][1]["field"] == "description");
  CHECK(body["errors"][1]["message"] == "must be a string\n");
}
