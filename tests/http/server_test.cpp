// http/server + session over loopback with the fake_gateway: keep-alive,
// 413 over the wire, the request deadline, replies from a foreign thread,
// drain/stop_accepting, and a clear error when the port is taken.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "fake_gateway.hpp"
#include "http/server.hpp"
#include "protocols/metrics.hpp"
#include "test_tokens.hpp"

using namespace tally;
using namespace tally::test;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

namespace {

constexpr const char* user_text = "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b";
/// A broken server must fail the test, not hang it.
constexpr int socket_timeout_s = 5;

struct running_server {
  http_config config;
  metrics registry;
  fake_gateway gate;
  std::unique_ptr<http_server> server;

  explicit running_server(std::function<void(http_config&)> adjust = {}) {
    config.port = 0;
    config.jwt_secret = test_secret;
    config.access_log = false;
    if (adjust) adjust(config);
    server = std::make_unique<http_server>(config, gate, registry);
    server->start();
  }
  ~running_server() { server->stop(); }
};

struct client {
  net::io_context io;
  tcp::socket socket{io};
  beast::flat_buffer buffer;

  explicit client(uint16_t port) {
    socket.connect({net::ip::make_address("127.0.0.1"), port});
    timeval timeout{socket_timeout_s, 0};
    setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  }

  http::response<http::string_body> exchange(http::request<http::string_body> request) {
    request.set(http::field::host, "test");
    request.prepare_payload();
    http::write(socket, request);
    return read();
  }

  http::response<http::string_body> read() {
    http::response<http::string_body> response;
    http::read(socket, buffer, response);
    return response;
  }

  /// True when the server closed the connection (EOF on the next read).
  bool closed_by_server() {
    char byte;
    beast::error_code ec;
    socket.read_some(net::buffer(&byte, 1), ec);
    return ec == net::error::eof || ec == net::error::connection_reset;
  }
};

http::request<http::string_body> get(const std::string& target) {
  return {http::verb::get, target, 11};
}

std::string bearer_token() {
  return "Bearer " + make_token(hs256_header(), valid_claims(user_text, unix_now_s()), test_secret);
}

/// Waits (bounded) until the fake gateway holds `count` replies: the server
/// has read the request and is waiting for the actors.
bool wait_for_held(fake_gateway& gate, size_t count) {
  for (int i = 0; i < 500; ++i) {
    if (gate.held_count() >= count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

} // namespace

TEST_CASE("serves several requests on one keep-alive connection") {
  running_server s;
  REQUIRE(s.server->port() != 0);
  client c(s.server->port());
  auto first = c.exchange(get("/healthz"));
  CHECK(first.result() == http::status::ok);
  CHECK(first.keep_alive());
  auto missing = c.exchange(get("/nowhere"));
  CHECK(missing.result() == http::status::not_found);
  auto request = get("/v1/me/balance");
  request.set(http::field::authorization, bearer_token());
  s.gate.balance_value = {3, 1};
  auto balance = c.exchange(request);
  CHECK(balance.result() == http::status::ok);
  CHECK(balance.body() == R"({"available":3,"reserved":1})");
  CHECK_FALSE(balance[http::field::content_length].empty());
}

TEST_CASE("the socket's peer address reaches the gateway as the client IP") {
  for (bool trusted : {false, true}) {
    INFO(trusted);
    running_server s([trusted](http_config& c) { c.trust_forwarded_for = trusted; });
    client c(s.server->port());
    http::request<http::string_body> request{http::verb::post, "/v1/auth/magic-link", 11};
    request.set(http::field::content_type, "application/json");
    request.set("X-Forwarded-For", "203.0.113.77");
    request.body() = R"({"email": "a@example.com"})";
    CHECK(c.exchange(request).result() == http::status::accepted);
    REQUIRE(s.gate.magic_link_calls.size() == 1);
    CHECK(s.gate.magic_link_calls[0].origin.client_ip == (trusted ? "203.0.113.77" : "127.0.0.1"));
  }
}

TEST_CASE("a body over the limit is 413 problem+json and the connection closes") {
  running_server s;
  client c(s.server->port());
  std::string head =
    "POST /v1/me/charges HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
    "X-Request-ID: big-body\r\nContent-Length: 1000000\r\n\r\n{\"amount\": 1";
  net::write(c.socket, net::buffer(head));
  auto response = c.read();
  CHECK(response.result() == http::status::payload_too_large);
  CHECK(response[http::field::content_type] == "application/problem+json");
  auto body = nlohmann::json::parse(response.body());
  CHECK(body["code"] == "PAYLOAD_TOO_LARGE");
  CHECK(body["request_id"] == "big-body");
  CHECK_FALSE(response.keep_alive());
  c.socket.shutdown(tcp::socket::shutdown_send);
  CHECK(c.closed_by_server());
  CHECK(s.gate.call_count() == 0);
}

TEST_CASE("exactly body_bytes_max is accepted") {
  running_server s([](http_config& c) { c.body_bytes_max = 64; });
  client c(s.server->port());
  http::request<http::string_body> request{http::verb::post, "/v1/me/charges", 11};
  request.set(http::field::authorization, bearer_token());
  request.set(http::field::content_type, "application/json");
  request.set("Idempotency-Key", "exact");
  std::string document = R"({"amount": 1})";
  request.body() = document + std::string(64 - document.size(), ' ');
  CHECK(c.exchange(request).result() == http::status::created);
}

TEST_CASE("headers over the limit are 431 and malformed HTTP is 400") {
  running_server s([](http_config& c) { c.header_bytes_max = 1024; });
  {
    client c(s.server->port());
    std::string big = "GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(4000, 'a') +
                      "\r\n\r\n";
    net::write(c.socket, net::buffer(big));
    CHECK(c.read().result_int() == 431);
  }
  {
    client c(s.server->port());
    net::write(c.socket, net::buffer(std::string("GARBAGE\r\n\r\n")));
    auto response = c.read();
    CHECK(response.result() == http::status::bad_request);
    CHECK(nlohmann::json::parse(response.body())["code"] == "BAD_REQUEST");
  }
}

TEST_CASE("a reply slower than the deadline is 503; the late reply is dropped") {
  running_server s([](http_config& c) { c.request_deadline = std::chrono::milliseconds(100); });
  s.gate.hold = true;
  client c(s.server->port());
  auto request = get("/v1/me/balance");
  request.set(http::field::authorization, bearer_token());
  auto response = c.exchange(request);
  CHECK(response.result() == http::status::service_unavailable);
  CHECK(nlohmann::json::parse(response.body())["code"] == "STORE_UNAVAILABLE");
  CHECK_FALSE(response[http::field::retry_after].empty());
  s.gate.deliver_held();  // late: ignored
  s.gate.hold = false;
  CHECK(c.exchange(get("/healthz")).result() == http::status::ok);
}

TEST_CASE("replies from another thread reach the connection; drain waits for them") {
  running_server s;
  s.gate.hold = true;
  s.gate.balance_value = {9, 0};
  client c(s.server->port());
  auto request = get("/v1/me/balance");
  request.set(http::field::authorization, bearer_token());
  request.set(http::field::host, "test");
  http::write(c.socket, request);
  REQUIRE(wait_for_held(s.gate, 1));
  CHECK_FALSE(s.server->drain(std::chrono::milliseconds(20)));
  std::thread actor_thread([&] { s.gate.deliver_held(); });
  actor_thread.join();
  auto response = c.read();
  CHECK(response.result() == http::status::ok);
  CHECK(response.body() == R"({"available":9,"reserved":0})");
  CHECK(s.server->drain(std::chrono::milliseconds(2'000)));
}

TEST_CASE("after stop_accepting, open connections are served with Connection: close") {
  running_server s;
  client c(s.server->port());
  CHECK(c.exchange(get("/healthz")).keep_alive());
  s.server->stop_accepting();
  auto last = c.exchange(get("/healthz"));
  CHECK(last.result() == http::status::ok);
  CHECK_FALSE(last.keep_alive());
  CHECK(c.closed_by_server());
  net::io_context io;
  tcp::socket late(io);
  beast::error_code ec;
  late.connect({net::ip::make_address("127.0.0.1"), s.server->port()}, ec);
  CHECK(ec);
  CHECK(s.server->drain(std::chrono::milliseconds(100)));
}

TEST_CASE("a taken port is a clear start error") {
  running_server s;
  http_config config;
  config.port = s.server->port();
  metrics registry;
  fake_gateway gate;
  http_server second(config, gate, registry);
  try {
    second.start();
    FAIL("start() should have thrown");
  } catch (const std::runtime_error& e) {
    std::string message = e.what();
    CHECK(message.find(std::to_string(config.port)) != std::string::npos);
    CHECK(message.find("bind") != std::string::npos);
  }
}

TEST_CASE("stop with a reply outstanding is safe; the reply later goes nowhere") {
  fake_gateway* gate = nullptr;
  {
    auto s = std::make_unique<running_server>();
    s->gate.hold = true;
    client c(s->server->port());
    auto request = get("/v1/me/balance");
    request.set(http::field::authorization, bearer_token());
    request.set(http::field::host, "test");
    http::write(c.socket, request);
    REQUIRE(wait_for_held(s->gate, 1));
    s->server->stop();
    CHECK(c.closed_by_server());
    s->gate.deliver_held();  // the server is stopped: must not crash
    gate = &s->gate;
  }
  CHECK(gate != nullptr);
}

TEST_CASE("Expect: 100-continue gets 100 Continue before the body is sent") {
  running_server s;
  client c(s.server->port());
  std::string body = R"({"amount": 1})";
  std::string head = "POST /v1/me/charges HTTP/1.1\r\nHost: t\r\nAuthorization: " + bearer_token() +
                     "\r\nContent-Type: application/json\r\nIdempotency-Key: cont\r\n"
                     "Expect: 100-continue\r\nContent-Length: " +
                     std::to_string(body.size()) + "\r\n\r\n";
  net::write(c.socket, net::buffer(head));
  std::string interim;
  net::read_until(c.socket, net::dynamic_buffer(interim), "\r\n\r\n");
  CHECK(interim.rfind("HTTP/1.1 100 Continue\r\n\r\n", 0) == 0);
  net::write(c.socket, net::buffer(body));
  auto response = c.read();
  CHECK(response.result() == http::status::created);
  REQUIRE(s.gate.charge_calls.size() == 1);
  CHECK(s.gate.charge_calls[0].second.idem.key == "cont");
}
