// http/client_ip: the socket's peer by default; the first X-Forwarded-For
// entry only when trusted and only when it is an IP address.
#include <catch2/catch.hpp>

#include "http/client_ip.hpp"

using namespace tally;

TEST_CASE("without trust the peer address is used and X-Forwarded-For ignored") {
  CHECK(client_ip_of("10.1.2.3", "", false) == "10.1.2.3");
  CHECK(client_ip_of("10.1.2.3", "203.0.113.9", false) == "10.1.2.3");
  CHECK(client_ip_of("::1", "203.0.113.9", false) == "::1");
  CHECK(client_ip_of("", "203.0.113.9", false) == "unknown");
  CHECK(client_ip_of("", "", true) == "unknown");
}

TEST_CASE("with trust the first X-Forwarded-For entry wins") {
  CHECK(client_ip_of("10.0.0.1", "203.0.113.9", true) == "203.0.113.9");
  CHECK(client_ip_of("10.0.0.1", " 203.0.113.9 , 10.0.0.7, 10.0.0.1", true) == "203.0.113.9");
  CHECK(client_ip_of("10.0.0.1", "2001:DB8::1, 10.0.0.7", true) == "2001:db8::1");
  CHECK(client_ip_of("10.0.0.1", "[2001:db8::1]:4711", true) == "2001:db8::1");
  CHECK(client_ip_of("10.0.0.1", "203.0.113.9:4711", true) == "203.0.113.9");
  CHECK(client_ip_of("10.0.0.1", "::ffff:203.0.113.9", true) == "203.0.113.9");
}

TEST_CASE("a trusted but unusable X-Forwarded-For falls back to the peer") {
  for (auto header : {"", " ", ",203.0.113.9", "unknown", "evil\"; drop", "203.0.113.999",
                      "[2001:db8::1", "_hidden", "1.2.3.4.5"}) {
    INFO(header);
    CHECK(client_ip_of("10.0.0.1", header, true) == "10.0.0.1");
  }
  CHECK(client_ip_of("10.0.0.1", std::string(200, '1'), true) == "10.0.0.1");
}

TEST_CASE("canonical_ip normalises and rejects") {
  CHECK(canonical_ip("2001:0db8:0000:0000:0000:0000:0000:0001") == "2001:db8::1");
  // An IPv4 client on a dual-stack socket is its IPv4 address.
  CHECK(canonical_ip("::ffff:192.0.2.7") == "192.0.2.7");
  CHECK(canonical_ip("not an ip").empty());
  CHECK(canonical_ip("127.0.0.1") == "127.0.0.1");
  CHECK(canonical_ip("localhost").empty());
  CHECK(canonical_ip("").empty());
}
