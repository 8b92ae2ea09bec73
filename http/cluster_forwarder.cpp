#include "http/cluster_forwarder.hpp"

#include <atomic>
#include <chrono>
#include <deque>
#include <future>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include "protocols/cluster_wire.hpp"
#include "protocols/forwarding_metrics.hpp"
#include "protocols/log.hpp"
#include "protocols/wire.hpp"

namespace tally {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

namespace {

/// Largest answer read from a peer: a ledger or generation page of 200
/// entries is well below it.
constexpr uint64_t peer_response_bytes_max = 8 * 1024 * 1024;

/// After a 421, how often the map is looked at for a new owner (reading it
/// is a lock and a copy; the lease keeper refreshes within a few hundred ms).
constexpr std::chrono::milliseconds misdirected_poll_interval{20};

failure unavailable(std::string detail) {
  return {error_code::shard_unavailable, std::move(detail), 1};
}

/// "host:port" -> (host, port); the port is what follows the last colon.
std::pair<std::string, std::string> split_address(const std::string& address) {
  auto colon = address.rfind(':');
  if (colon == std::string::npos) return {address, ""};
  return {address.substr(0, colon), address.substr(colon + 1)};
}

} // namespace

struct cluster_forwarder::impl {
  /// One idle or busy keep-alive connection to a peer.
  struct connection {
    explicit connection(net::io_context& io) : stream(io) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
  };

  struct peer;

  /// One forwarded command, alive until its last handler ran.
  struct call {
    explicit call(net::io_context& io) : deadline(io), pause(io) {}
    int shard = 0;
    std::string body;
    std::string tag;
    completion done;
    net::steady_timer deadline;
    net::steady_timer pause;  ///< after a 421: polls the map before the retry
    std::string address;      ///< the owner it was last sent to
    bool finished = false;
    bool misdirected = false;  ///< one 421 seen: the next one is final
    peer* at = nullptr;        ///< holds a slot of this peer
    std::unique_ptr<connection> link;
    bool reused = false;
    bool retried_fresh = false;
    bhttp::request<bhttp::string_body> request;
    std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  };
  using call_ptr = std::shared_ptr<call>;

  /// One owner address: its slots, its queue and its idle connections.
  struct peer {
    std::string host;
    std::string port;
    size_t in_flight = 0;
    std::deque<call_ptr> queued;
    std::vector<std::unique_ptr<connection>> idle;
  };

  impl(forwarding_config c, shard_directory& d, std::string key, forwarding_metrics* s)
    : config(c), directory(d), auth_key(std::move(key)), stats(s) {}

  // -- on the forwarder's thread ------------------------------------------------

  void begin(const call_ptr& job) {
    if (stopping) return finish(job, forward_result::unavailable, unavailable("This node is stopping"));
    live.insert(job);
    job->deadline.expires_after(config.timeout);
    job->deadline.async_wait([this, job](beast::error_code ec) {
      if (ec) return;  // cancelled: the call ended first
      finish(job, forward_result::timeout, unavailable("The key's owner did not answer in time; retry shortly"));
    });
    route(job);
  }

  /// Looks the owner up (again after a 421) and takes a slot of it.
  void route(const call_ptr& job) {
    auto where = directory.route(job->shard);
    if (where.place != shard_place::remote || where.address.empty())
      return finish(job, forward_result::unavailable, unavailable("The key's shard has no owner now; retry shortly"));
    job->address = where.address;
    auto& to = peers[where.address];
    if (to.host.empty()) std::tie(to.host, to.port) = split_address(where.address);
    if (to.in_flight < config.calls_per_peer_max) return start(job, to);
    if (to.queued.size() < config.queued_per_peer_max) {
      to.queued.push_back(job);
      return;
    }
    finish(job, forward_result::overloaded,
           failure{error_code::overloaded, "Too many commands waiting for another node; retry shortly", 1});
  }

  void start(const call_ptr& job, peer& to) {
    ++to.in_flight;
    job->at = &to;
    if (!to.idle.empty()) {
      job->link = std::move(to.idle.back());
      to.idle.pop_back();
      job->reused = true;
      return send(job);
    }
    connect(job);
  }

  void connect(const call_ptr& job) {
    job->link = std::make_unique<connection>(io);
    job->reused = false;
    auto resolver = std::make_shared<tcp::resolver>(io);
    resolver->async_resolve(job->at->host, job->at->port,
                            [this, job, resolver](beast::error_code ec, tcp::resolver::results_type found) {
                              if (job->finished) return;
                              if (ec) return unreachable(job, ec);
                              job->link->stream.expires_after(config.connect_timeout);
                              job->link->stream.async_connect(
                                found, [this, job](beast::error_code ec, const tcp::endpoint&) {
                                  if (job->finished) return;
                                  if (ec) return unreachable(job, ec);
                                  send(job);
                                });
                            });
  }

  void send(const call_ptr& job) {
    auto& request = job->request;
    request = {bhttp::verb::post, std::string(internal_commands_path), 11};
    request.set(bhttp::field::host, job->at->host + ":" + job->at->port);
    request.set(bhttp::field::content_type, msgpack_content_type);
    request.set(cluster_auth_header, job->tag);
    request.keep_alive(true);
    request.body() = job->body;
    request.prepare_payload();
    job->parser.emplace();
    job->parser->body_limit(peer_response_bytes_max);
    // The call's own timer is the deadline; the stream keeps none.
    job->link->stream.expires_never();
    bhttp::async_write(job->link->stream, request, [this, job](beast::error_code ec, size_t) {
      if (job->finished) return;
      if (ec) return broken(job, ec);
      bhttp::async_read(job->link->stream, job->link->buffer, *job->parser,
                        [this, job](beast::error_code ec, size_t) {
                          if (job->finished) return;
                          if (ec) return broken(job, ec);
                          answered(job);
                        });
    });
  }

  void answered(const call_ptr& job) {
    const auto& response = job->parser->get();
    bool keep = response.keep_alive();
    switch (response.result_int()) {
      case 200: {
        auto body = decode_value<reply_body>(response.body());
        release(job, keep);
        if (!body) return finish(job, forward_result::error, failure{error_code::internal, "unreadable answer from a peer", 0});
        return finish(job, forward_result::ok, std::move(*body));
      }
      case 421: return misdirected(job, keep);
      case 503:
        release(job, keep);
        return finish(job, forward_result::unavailable, unavailable("The key's owner is busy or stopping; retry shortly"));
      default:
        log_event(log_level::error, "a peer refused a forwarded command",
                  {{"peer", std::string_view(job->at->host)},
                   {"status", static_cast<int64_t>(response.result_int())}});
        release(job, keep);
        return finish(job, forward_result::error, failure{error_code::internal, "a peer refused a forwarded command", 0});
    }
  }

  /// 421: the map was stale. Ask for a refresh and retry once: as soon as
  /// the map names another owner for the shard, or after
  /// misdirected_retry_wait (the owner may just have taken the lease).
  void misdirected(const call_ptr& job, bool keep) {
    if (stats) stats->count(forward_result::misdirected);
    release(job, keep);
    directory.refresh_soon();
    if (job->misdirected)
      return finish(job, forward_result::misdirected, unavailable("The key's shard is moving; retry shortly"), false);
    job->misdirected = true;
    await_new_route(job, config.misdirected_retry_wait / misdirected_poll_interval);
  }

  void await_new_route(const call_ptr& job, int64_t polls_left) {
    job->pause.expires_after(misdirected_poll_interval);
    job->pause.async_wait([this, job, polls_left](beast::error_code ec) {
      if (ec || job->finished) return;
      auto now = directory.route(job->shard);
      bool changed = now.place != shard_place::remote || now.address != job->address;
      if (changed || polls_left <= 1) return route(job);
      await_new_route(job, polls_left - 1);
    });
  }

  /// A write or read failed. A pooled connection the peer closed while it
  /// was idle fails at once: one more try on a fresh connection (the peer
  /// never read the request). Anything else: the owner is unreachable.
  void broken(const call_ptr& job, beast::error_code ec) {
    bool closed_while_idle = ec == bhttp::error::end_of_stream || ec == net::error::eof ||
                             ec == net::error::connection_reset || ec == net::error::broken_pipe;
    if (job->reused && !job->retried_fresh && closed_while_idle) {
      job->retried_fresh = true;
      return connect(job);
    }
    unreachable(job, ec);
  }

  void unreachable(const call_ptr& job, beast::error_code ec) {
    // The first failure and every 1024th after it: a dead peer under load
    // must not become a flood of log lines.
    if (unreachable_count++ % 1024 == 0)
      log_event(log_level::warn, "forwarding failed: owner unreachable",
                {{"peer", std::string_view(job->at ? job->at->host + ":" + job->at->port : std::string())},
                 {"detail", std::string_view(ec.message())},
                 {"failures_so_far", static_cast<int64_t>(unreachable_count)}});
    finish(job, forward_result::unavailable, unavailable("The key's owner is unreachable; retry shortly"));
  }

  /// Gives the call's slot back (and its connection to the pool when the
  /// answer was complete and keep-alive), then starts a queued call.
  void release(const call_ptr& job, bool keep_connection) {
    if (job->link) {
      if (keep_connection && job->at && job->at->idle.size() < config.idle_connections_per_peer_max) {
        job->at->idle.push_back(std::move(job->link));
      } else {
        beast::error_code ignored;
        job->link->stream.socket().close(ignored);  // handlers still pending see finished
      }
    }
    auto* to = job->at;
    job->at = nullptr;
    if (to == nullptr) return;
    --to->in_flight;
    while (to->in_flight < config.calls_per_peer_max && !to->queued.empty()) {
      auto next = to->queued.front();
      to->queued.pop_front();
      if (!next->finished) start(next, *to);
    }
  }

  /// Ends the call: exactly once, whichever of answer, failure, deadline or
  /// stop comes first.
  void finish(const call_ptr& job, forward_result result, reply_body answer, bool count = true) {
    if (job->finished) return;
    job->finished = true;
    job->deadline.cancel();
    job->pause.cancel();
    release(job, false);
    live.erase(job);
    if (stats && count) stats->count(result);
    deliver(job->done, std::move(answer));
  }

  void fail_everything() {
    stopping = true;
    std::vector<call_ptr> all(live.begin(), live.end());  // finish() edits `live`
    for (auto& job : all) finish(job, forward_result::unavailable, unavailable("This node is stopping; retry shortly"));
    peers.clear();
  }

  forwarding_config config;
  shard_directory& directory;
  const std::string auth_key;
  forwarding_metrics* stats;
  std::atomic<bool> stopped{false};

  // Touched only on the forwarder's thread.
  bool stopping = false;
  uint64_t unreachable_count = 0;
  std::unordered_set<call_ptr> live;  // every call not finished (for stop())
  std::unordered_map<std::string, peer> peers;

  // Last: the thread is joined before the state above goes.
  net::io_context io;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work{net::make_work_guard(io)};
  std::thread thread{[this] { io.run(); }};
};

cluster_forwarder::cluster_forwarder(forwarding_config config, shard_directory& directory, std::string auth_key,
                                     forwarding_metrics* stats)
  : impl_(std::make_unique<impl>(config, directory, std::move(auth_key), stats)) {}

cluster_forwarder::~cluster_forwarder() {
  stop();
}

void cluster_forwarder::forward(envelope message, completion done) {
  auto& s = *impl_;
  if (s.stopped.load(std::memory_order_acquire)) {
    fail(done, unavailable("This node is stopping; retry shortly"));
    return;
  }
  auto shard = shard_of(message.key);
  auto body = encode_value(message);
  auto tag = cluster_auth_tag(s.auth_key, body);
  // Posted after stop() drained the thread: never run, and the completion's
  // fallback answers when the io_context destroys the handler.
  net::post(s.io, [&s, shard, body = std::move(body), tag = std::move(tag), done = std::move(done)]() mutable {
    // Timers are made here, on the thread that runs them.
    auto job = std::make_shared<impl::call>(s.io);
    job->shard = shard;
    job->body = std::move(body);
    job->tag = std::move(tag);
    job->done = std::move(done);
    s.begin(job);
  });
}

void cluster_forwarder::stop() {
  auto& s = *impl_;
  if (s.stopped.exchange(true)) return;
  std::promise<void> failed;
  net::post(s.io, [&s, &failed] {
    s.fail_everything();
    failed.set_value();
  });
  failed.get_future().wait();
  s.work.reset();
  s.io.stop();
  s.thread.join();
}

} // namespace tally
