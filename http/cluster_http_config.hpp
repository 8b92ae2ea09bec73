#pragma once
// Settings of the two HTTP pieces of cluster routing (docs/
// CLUSTER-FORWARDING.md): the forwarder that sends commands to the node
// serving their shard, and the internal listener that receives them.
// app/forwarding_settings.cpp fills them; every limit is named with its unit.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace tally {

struct forwarding_config {
  /// A forwarded command the owner has not answered by then completes with
  /// 503 SHARD_UNAVAILABLE + Retry-After (the client retries with its
  /// idempotency key). Below the HTTP request deadline, so the client hears
  /// this rather than a generic time-out.
  std::chrono::milliseconds timeout{3'000};
  /// A connection to a peer not established by then: the owner is
  /// unreachable (within `timeout`).
  std::chrono::milliseconds connect_timeout{1'000};
  /// After a 421 the directory is asked to refresh (asynchronously); the one
  /// retry goes out as soon as the map names another owner, or after this
  /// (the same owner may just have taken the lease). Within `timeout`.
  std::chrono::milliseconds misdirected_retry_wait{500};
  /// Calls in flight to one peer at most; more wait in a bounded queue.
  size_t calls_per_peer_max = 256;
  /// Calls waiting for a slot, per peer; beyond it: 503 OVERLOADED at once.
  size_t queued_per_peer_max = 4096;
  /// Idle keep-alive connections kept per peer.
  size_t idle_connections_per_peer_max = 64;
};

struct internal_listener_config {
  /// TALLY_ADVERTISE_HOST:TALLY_INTERNAL_PORT (0: any free port, tests).
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  /// An envelope holds at most what one public request carried (64 KiB of
  /// body) plus its framing; anything larger is refused with 413.
  size_t body_bytes_max = 256 * 1024;
  /// Open connections from peers at most (each carries one command at a
  /// time, so this also bounds the commands in flight).
  size_t connections_max = 2'048;
  /// An arrival the entity has not answered by then gets 503.
  std::chrono::milliseconds request_deadline{10'000};
};

} // namespace tally
