#pragma once
// remote_commands over HTTP (DESIGN.md "Cluster", docs/CLUSTER-FORWARDING.md):
// an asynchronous Beast HTTP/1.1 client on an Asio thread of its own. Each
// forwarded command is POST /internal/v1/commands to the internal address
// of the node that serves its shard (from the shard_directory), body = the
// msgpack envelope, X-Tally-Cluster-Auth = its HMAC.
//
//   forward ──▶ route(shard) ─remote─▶ peer slot (≤ calls_per_peer_max, the
//   rest queued ≤ queued_per_peer_max) ──▶ pooled or new connection ──▶ POST
//     200 ──▶ the reply_body (result or domain failure) to the completion
//     421 ──▶ refresh_soon(), pause, route again, ONE retry (a 2nd 421: 503)
//     503, refused, reset, no owner ──▶ 503 SHARD_UNAVAILABLE + Retry-After
//   the deadline (forwarding_config::timeout, one Asio timer per call) ends
//   any of these steps: 503 SHARD_UNAVAILABLE.
//
// Every completion is called exactly once, whatever happens; stop()
// completes everything in flight or queued and joins the thread.
#include <memory>

#include "http/cluster_http_config.hpp"
#include "protocols/cluster.hpp"

namespace tally {

class forwarding_metrics;

class cluster_forwarder final : public remote_commands {
public:
  /// `directory` (and `stats`, which may be null) outlive the forwarder.
  /// `auth_key` is cluster_auth_key(the JWT secret).
  cluster_forwarder(forwarding_config config, shard_directory& directory, std::string auth_key,
                    forwarding_metrics* stats);
  ~cluster_forwarder() override;

  cluster_forwarder(const cluster_forwarder&) = delete;
  cluster_forwarder& operator=(const cluster_forwarder&) = delete;

  /// Non-blocking (encodes, signs, posts to the forwarder's thread).
  void forward(envelope message, completion done) override;

  /// Completes every call in flight or queued with shard_unavailable, closes
  /// the pools and joins the thread; later forwards fail at once. Idempotent.
  void stop();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tally
