#pragma once
// loadclient: an HTTP/1.1 keep-alive load generator for Tally's benchmarks
// and for the invariant-checking load test (bench/loadgen).
//
// The engine (loadclient.cpp) keeps N connections busy, one request in flight
// per connection, and asks a `workload` what to send next. Throughput modes
// (charge, get, balance, grant) live in loadclient.cpp; the adversarial
// `verify` workload lives in verify.cpp. Nothing here depends on Tally's code:
// the client must measure the binary from outside, exactly like a real client.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace loadclient {

/// How a connection ends a request after writing it.
enum class request_ending {
  read_response,        ///< normal: wait for the response
  close_after_send,     ///< abandon: close the socket right after the last byte
  close_after_partial,  ///< abandon: close after sending half of the bytes
};

/// What a connection sends next. `tag` lets the workload match the outcome.
struct planned_request {
  std::string bytes;  ///< the complete HTTP/1.1 request
  request_ending ending = request_ending::read_response;
  uint64_t tag = 0;
};

/// The parts of a response a workload looks at.
struct response_view {
  int status = 0;
  std::string_view body;
  bool replayed = false;  ///< header Idempotent-Replayed: true
};

/// Decides what each connection sends and hears every outcome. The engine
/// calls a workload from its io thread(s); workloads used with more than one
/// thread must be thread-safe (the throughput ones use atomics only).
class workload {
public:
  virtual ~workload() = default;
  /// The next request for connection `conn`; nullopt stops that connection.
  virtual std::optional<planned_request> next(size_t conn) = 0;
  /// A complete response arrived for `tag`.
  virtual void on_response(size_t conn, uint64_t tag, const response_view& response) = 0;
  /// The request was abandoned on purpose (ending != read_response).
  virtual void on_abandoned(size_t conn, uint64_t tag) {}
  /// The request failed in transport (reset, time-out); outcome unknown.
  virtual void on_failed(size_t conn, uint64_t tag, std::string_view what) {}
  /// Called once after the run, from the main thread.
  virtual void finish() {}
};

/// Mints HS256 access tokens the way `tally mint-token` does (iss "tally",
/// aud "tally-api", sub, sid, iat, exp, jti), so a benchmark can act as a
/// million users without a million-line token file.
class token_minter {
public:
  token_minter(std::string secret, int64_t ttl_s);
  /// `session_id` must name a live session of the user (Tally checks it on
  /// every request); empty = a random one, which Tally answers with 401.
  std::string mint(std::string_view user_id, std::string_view session_id);

private:
  std::string secret_;
  int64_t ttl_s_;
  std::string header_b64_;
  std::mt19937_64 random_;
};

/// Where bearer tokens come from: a token file (used as is) or a users file
/// ("USER_UUID SESSION_UUID" per line, tokens minted with the JWT secret;
/// the session must exist in the store, bench/run inserts them). Small sets are minted up front;
/// large ones on demand so 1 M users do not cost 300 MB of tokens.
class token_source {
public:
  static constexpr size_t premint_users_max = 200'000;

  /// At most one of tokens_file / users_file is non-empty. Without a secret
  /// a users file only provides ids (grant mode).
  token_source(const std::string& tokens_file, const std::string& users_file, const std::string& jwt_secret,
               int64_t ttl_s);
  size_t size() const { return count_; }
  /// Token of user i (0 <= i < size()). Not thread-safe when minting on demand.
  std::string token(size_t i);
  /// The user id of line i, when built from a users file ("" otherwise).
  const std::string& user_id(size_t i) const;

private:
  size_t count_ = 0;
  std::vector<std::string> tokens_;
  std::vector<std::string> users_;
  /// Per user, the session its tokens name (second column of the users file).
  std::vector<std::string> sessions_;
  std::unique_ptr<token_minter> minter_;
};

/// Settings of the verify workload (see verify.cpp).
struct verify_options {
  uint64_t seed = 1;
  std::string journal_path;
  std::string host_header;
  size_t requests = 20'000;     ///< requests to issue (0 = until the duration ends)
  int abandon_pct = 5;          ///< new charges whose socket is closed before the response
  int retry_pct = 15;           ///< repeats of an earlier key with the same body
  int mismatch_pct = 5;         ///< repeats of an answered key with a different body
  size_t hot_users = 5;         ///< the first hot_users users get hot_pct of the traffic
  int hot_pct = 50;
  int64_t amount_max = 3;       ///< new charges use amounts 1..amount_max
};

/// The adversarial workload of bench/loadgen. Single-threaded only.
std::unique_ptr<workload> make_verify_workload(const verify_options& options, token_source& tokens);

/// JSON string escaping for the journal and the summary line.
std::string json_escape(std::string_view text);

} // namespace loadclient
