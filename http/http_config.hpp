#pragma once
// Settings of the HTTP front door. app/ fills this from flags, the config
// file and TALLY_* variables; every limit is named with its unit.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "protocols/generations.hpp"

#include "protocols/tenants.hpp"

#include "protocols/webhook.hpp"

#include "protocols/cluster_status.hpp"

namespace tally {

struct http_config {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  /// Asio threads; 1 leaves the second core to CAF and the writer.
  int io_threads = 1;

  /// API.md: a body over 64 KiB gets 413 PAYLOAD_TOO_LARGE.
  size_t body_bytes_max = 64 * 1024;
  /// Request line + headers; above it the connection gets 431 and closes.
  size_t header_bytes_max = 16 * 1024;
  /// A request must arrive completely within this (slow-loris guard).
  std::chrono::milliseconds read_timeout{10'000};
  /// A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idle_timeout{60'000};
  /// An actor reply slower than this becomes 503 STORE_UNAVAILABLE (the
  /// deadline lives on the Asio side: CAF 0.17 never frees request timeouts).
  std::chrono::milliseconds request_deadline{10'000};
  /// Open connections at most. At the cap a newcomer takes the place of the
  /// connection idle the longest; with none idle it gets 503 + Retry-After.
  size_t connections_max = 10'000;
  /// Open connections per client IP (the socket's peer, also behind a
  /// proxy), so one client cannot take every slot; same rules as above.
  size_t connections_per_ip_max = 256;
  /// Bytes held for requests and responses in flight over all connections
  /// (read buffers, bodies, responses being written). A request that would
  /// need more gets 503 OVERLOADED + Retry-After and its connection closes.
  size_t buffered_bytes_max = 64 * 1024 * 1024;
  /// The most one connection may need to read a request: its header, its
  /// body and a read's worth more. buffered_bytes_max must hold one.
  size_t one_request_bytes_max() const { return 2 * header_bytes_max + body_bytes_max + 8 * 1024; }

  /// Allowed CORS origins (exact match); empty = CORS off.
  std::vector<std::string> cors_origins;

  /// HS256 key for access tokens; iss/aud pinned; leeway on exp/nbf/iat.
  std::string jwt_secret;
  std::string jwt_issuer = "tally";
  std::string jwt_audience = "tally-api";
  std::chrono::seconds jwt_leeway{30};

  /// Bearer token for /v1/admin/*; empty = admin API off (401 for all).
  std::string admin_token;

  /// Dev mode: debug tokens in responses, secrets may be logged.
  bool dev = false;
  /// One JSON log line per request (on by default; benchmarks may turn it off).
  bool access_log = true;

  /// The example web page's folder, served at /app/ (read once at start-up);
  /// empty = the page is off and /app answers 404.
  std::string web_dir;

  /// Seconds suggested in Retry-After for 503 responses.
  int retry_after_s = 1;

  /// Take the client IP (rate limits, audit log) from the first
  /// X-Forwarded-For entry instead of the socket. Only behind a proxy that
  /// sets the header itself: otherwise any client picks its own IP.
  bool trust_forwarded_for = false;

  /// The models POST /v1/generations accepts and GET /v1/models lists.
  generation_catalog catalog = default_generation_catalog();

  /// Module catalog and reserved subdomains (422 at the door).
  tenant_config tenants;

  /// Payment webhooks: the signing secret (empty: 503) and the signature's
  /// timestamp tolerance.
  webhook_config webhook;

  /// This node's cluster view (/readyz, GET /v1/admin/cluster); outlives
  /// the server. Null: a single node named after host:port.
  const cluster_status* cluster = nullptr;
};

} // namespace tally
