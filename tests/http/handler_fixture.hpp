#pragma once
// The request_handler test fixture: a handler over a fake_gateway with the
// test secrets, request builders, and problem+json assertions. Shared by the
// handler tests of every resource.
#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_gateway.hpp"
#include "http/request_handler.hpp"
#include "protocols/metrics.hpp"
#include "test_tokens.hpp"

namespace tally::test {

using boost::beast::http::verb;

inline constexpr const char* user_text = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b";
inline constexpr const char* other_user_text = "0b8e4b5e-8c1c-4a52-9f3e-00000000000a";
inline constexpr const char* allowed_origin = "https://app.example.com";

struct header {
  std::string name;
  std::string value;
};

inline http_request make_request(verb method, std::string target, std::string body = {},
                                 std::vector<header> headers = {}) {
  http_request request{method, target, 11};
  request.set(http::field::host, "test");
  for (auto& h : headers) request.set(h.name, h.value);
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

struct fixture {
  http_config config;
  metrics registry;
  fake_gateway gate;
  std::shared_ptr<request_handler> handler;
  std::string token;
  uuid user = *parse_uuid(user_text);
  uuid session = *parse_uuid(test_session_text);

  explicit fixture(std::function<void(http_config&)> adjust = {}) {
    config.jwt_secret = test_secret;
    config.admin_token = test_admin_token;
    config.cors_origins = {allowed_origin};
    config.access_log = false;
    config.retry_after_s = 2;
    if (adjust) adjust(config);
    handler = std::make_shared<request_handler>(config, gate, registry);
    token = make_token(hs256_header(), valid_claims(user_text, unix_now_s()), test_secret);
  }

  std::string bearer() const { return "Bearer " + token; }

  /// Sends a request whose answer must be given synchronously.
  http_response send(http_request request, std::string_view peer_ip = "127.0.0.1") {
    int calls = 0;
    std::optional<http_response> got;
    handler->handle(
      std::move(request),
      [&](http_response response) {
        ++calls;
        got = std::move(response);
      },
      peer_ip);
    REQUIRE(calls == 1);
    return std::move(*got);
  }

  http_response get(const std::string& target, std::vector<header> headers = {}) {
    return send(make_request(verb::get, target, {}, std::move(headers)));
  }

  http_response get_me(const std::string& target) {
    return get(target, {{"Authorization", bearer()}});
  }

  /// POST with a JSON body (Content-Type set) from `peer_ip`.
  http_response post_json(const std::string& target, std::string body,
                          std::vector<header> headers = {},
                          std::string_view peer_ip = "127.0.0.1") {
    headers.push_back({"Content-Type", "application/json"});
    return send(make_request(verb::post, target, std::move(body), std::move(headers)), peer_ip);
  }

  http_response charge(std::string body, std::string key = "key-1",
                       std::string content_type = "application/json") {
    std::vector<header> headers{{"Authorization", bearer()}};
    if (!content_type.empty()) headers.push_back({"Content-Type", content_type});
    if (!key.empty()) headers.push_back({"Idempotency-Key", key});
    return send(make_request(verb::post, "/v1/me/charges", std::move(body), headers));
  }

  http_response credit(const std::string& user_id, std::string body, std::string key = "key-1",
                       std::string bearer_value = "Bearer " + std::string(test_admin_token)) {
    std::vector<header> headers{{"Content-Type", "application/json"}};
    if (!bearer_value.empty()) headers.push_back({"Authorization", bearer_value});
    if (!key.empty()) headers.push_back({"Idempotency-Key", key});
    return send(make_request(verb::post, "/v1/admin/users/" + user_id + "/credits",
                             std::move(body), headers));
  }
};

inline std::string header_of(const http_response& response, std::string_view name) {
  auto it = response.find(name);
  return it == response.end() ? std::string() : std::string(it->value());
}

/// Asserts a problem+json answer with this status and code; returns the body.
inline nlohmann::json problem(const http_response& response, int status, const std::string& code) {
  INFO(response.body());
  CHECK(response.result_int() == static_cast<unsigned>(status));
  CHECK(header_of(response, "Content-Type") == "application/problem+json");
  auto body = nlohmann::json::parse(response.body());
  CHECK(body["status"] == status);
  CHECK(body["code"] == code);
  CHECK(body["type"].get<std::string>().rfind("/problems/", 0) == 0);
  CHECK(body["title"].is_string());
  CHECK(body["detail"].is_string());
  CHECK(body["request_id"] == header_of(response, "X-Request-ID"));
  CHECK_FALSE(header_of(response, "X-Request-ID").empty());
  return body;
}

inline std::set<std::string> error_fields(const nlohmann::json& body) {
  std::set<std::string> fields;
  for (const auto& e : body["errors"]) fields.insert(e["field"].get<std::string>());
  return fields;
}

} // namespace tally::test
