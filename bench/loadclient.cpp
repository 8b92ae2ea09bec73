// loadclient: HTTP/1.1 keep-alive load generator (Boost.Beast + Asio).
//
//   loadclient charge  --users FILE | --tokens FILE   POST /v1/me/charges {"amount":1}
//   loadclient get     --path /healthz                GET, the HTTP ceiling
//   loadclient balance --users FILE | --tokens FILE   GET /v1/me/balance, each user once
//   loadclient grant   --users FILE --grant N         admin grant to each user once
//   loadclient verify  --users FILE --journal FILE    adversarial load for bench/loadgen
//
// Prints one JSON line on stdout (req/s, p50/p90/p99/max latency, status
// histogram, transport errors) and one human line on stderr. One request is
// in flight per connection (no pipelining), like a browser or an SDK.
#include "bench/loadclient.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>


#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <openssl/hmac.h>
#include <openssl/evp.h>

namespace loadclient {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using steady = std::chrono::steady_clock;

namespace {

/// A connect that keeps failing means the server is gone: stop that
/// connection rather than spin (50 x 100 ms = 5 s of trying).
constexpr int connect_failures_max = 50;
constexpr auto connect_retry_delay = std::chrono::milliseconds(100);
/// After a timed run ends, in-flight requests get this long to finish; then
/// the io_context is stopped and what is still open counts as unfinished.
constexpr auto stop_grace = std::chrono::seconds(3);
/// Tally's bodies are small; anything bigger is a bug worth failing loudly on.
constexpr uint64_t response_body_bytes_max = 1 << 20;
/// Charge amounts are 1..10^9 (API.md); grants use the same bound here.
constexpr int64_t amount_max = 1'000'000'000;

// ---------------------------------------------------------------- encoding

std::string base64url(std::string_view in) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((in.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += alphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
  }
  return out;
}

std::string random_hex(std::mt19937_64& random, size_t bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes; ++i) {
    auto byte = static_cast<uint8_t>(random());
    out += digits[byte >> 4];
    out += digits[byte & 15];
  }
  return out;
}

std::string random_uuid_text(std::mt19937_64& random) {
  auto hex = random_hex(random, 16);
  hex[12] = '4';                                  // version 4
  hex[16] = "89ab"[random() & 3];                 // RFC 4122 variant
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-"
         + hex.substr(20);
}

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  if (lines.empty()) throw std::runtime_error(path + " has no lines");
  return lines;
}

} // namespace

std::string json_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

// ---------------------------------------------------------------- tokens

token_minter::token_minter(std::string secret, int64_t ttl_s)
    : secret_(std::move(secret)), ttl_s_(ttl_s), header_b64_(base64url(R"({"alg":"HS256","typ":"JWT"})")),
      random_(std::random_device{}()) {}

std::string token_minter::mint(std::string_view user_id, std::string_view session_id) {
  auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
               .count();
  std::string payload = R"({"iss":"tally","aud":"tally-api","sub":")" + std::string(user_id) + R"(","sid":")"
                        + (session_id.empty() ? random_uuid_text(random_) : std::string(session_id))
                        + R"(","iat":)" + std::to_string(now) + R"(,"exp":)"
                        + std::to_string(now + ttl_s_) + R"(,"jti":")" + random_hex(random_, 16) + "\"}";
  std::string signing_input = header_b64_ + "." + base64url(payload);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret_.data(), static_cast<int>(secret_.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), mac, &mac_len);
  return signing_input + "." + base64url(std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

namespace {
std::mutex minting_mutex;  // guards on-demand minting when several io threads share a token_source
} // namespace

token_source::token_source(const std::string& tokens_file, const std::string& users_file,
                           const std::string& jwt_secret, int64_t ttl_s) {
  if (!tokens_file.empty()) {
    tokens_ = read_lines(tokens_file);
    count_ = tokens_.size();
    return;
  }
  if (users_file.empty()) return;
  for (auto& line : read_lines(users_file)) {
    auto space = line.find(' ');
    users_.push_back(line.substr(0, space));
    sessions_.push_back(space == std::string::npos ? std::string{} : line.substr(space + 1));
  }
  count_ = users_.size();
  if (jwt_secret.empty()) return;  // ids only (grant); token() would throw
  minter_ = std::make_unique<token_minter>(jwt_secret, ttl_s);
  if (count_ <= premint_users_max) {
    tokens_.reserve(count_);
    for (size_t i = 0; i < count_; ++i) tokens_.push_back(minter_->mint(users_[i], sessions_[i]));
  }
}

std::string token_source::token(size_t i) {
  if (i < tokens_.size()) return tokens_[i];
  if (!minter_) throw std::runtime_error("minting tokens needs TALLY_JWT_SECRET or --jwt-secret");
  std::lock_guard<std::mutex> guard(minting_mutex);
  return minter_->mint(users_.at(i), sessions_.at(i));
}

const std::string& token_source::user_id(size_t i) const {
  static const std::string none;
  return i < users_.size() ? users_[i] : none;
}

namespace {

// ---------------------------------------------------------------- options

struct options {
  std::string mode;
  std::string host = "127.0.0.1";
  std::string port = "8080";
  size_t connections = 64;
  double duration_s = 10;
  double warmup_s = 2;
  bool duration_given = false;
  bool warmup_given = false;
  size_t requests = 0;  ///< 0 = timed run
  int threads = 1;
  int timeout_ms = 30'000;
  std::string path = "/healthz";
  std::string tokens_file;
  std::string users_file;
  std::string jwt_secret;
  std::string admin_token;
  int64_t token_ttl_s = 3600;
  int64_t amount = 1;
  int64_t grant = 1'000'000;
  std::string expect;
  std::string label;
  verify_options verify;
};

const char* usage_text =
  "usage: loadclient MODE [options]\n"
  "  MODE: charge | get | balance | grant | verify\n"
  "  --url http://HOST:PORT      server (default http://127.0.0.1:8080)\n"
  "  -c, --connections N         keep-alive connections (default 64)\n"
  "  -d, --duration S            measured seconds of a timed run (default 10)\n"
  "  -w, --warmup S              unmeasured seconds before it (default 2; 0 for balance/grant/verify)\n"
  "  -n, --requests N            stop after N requests instead of a duration\n"
  "  --threads N                 io threads (default 1; verify always 1)\n"
  "  --timeout-ms N              per-request time-out (default 30000)\n"
  "  --path P                    get: path (default /healthz)\n"
  "  --tokens FILE               one bearer token per line\n"
  "  --users FILE                \"USER_UUID [SESSION_UUID]\" per line; tokens minted with --jwt-secret\n"
  "  --jwt-secret S              HS256 key (default $TALLY_JWT_SECRET)\n"
  "  --token-ttl-s N             minted token lifetime (default 3600)\n"
  "  --amount N                  charge: amount per charge (default 1)\n"
  "  --grant N                   grant: credits per user (default 1000000)\n"
  "  --admin-token T             grant: admin bearer token (default $TALLY_ADMIN_TOKEN)\n"
  "  --expect LIST               e.g. 2xx or 200,201: exit 3 on any other status or transport error\n"
  "  --label NAME                copied into the JSON line\n"
  "  verify: --journal FILE --seed N --abandon-pct P --retry-pct P --mismatch-pct P\n"
  "          --hot-users K --hot-pct P --amount-max N\n"
  "  balance/grant default to each user once; charge/get default to a timed run.\n";

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "loadclient: " << message << "\n" << usage_text;
  std::exit(2);
}

int64_t parse_int(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    auto value = std::stoll(text, &used);
    if (used != text.size()) throw std::invalid_argument(text);
    return value;
  } catch (const std::exception&) {
    usage_error(flag + " needs an integer, not '" + text + "'");
  }
}

double parse_seconds(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    auto value = std::stod(text, &used);
    if (used != text.size() || value < 0) throw std::invalid_argument(text);
    return value;
  } catch (const std::exception&) {
    usage_error(flag + " needs a number of seconds, not '" + text + "'");
  }
}

void parse_url(options& o, std::string url) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) == 0) url = url.substr(scheme.size());
  auto slash = url.find('/');
  if (slash != std::string::npos) url = url.substr(0, slash);
  auto colon = url.rfind(':');
  if (colon == std::string::npos) {
    o.host = url;
    o.port = "80";
  } else {
    o.host = url.substr(0, colon);
    o.port = url.substr(colon + 1);
  }
  if (o.host.empty() || o.port.empty()) usage_error("bad --url");
}

options parse_options(int argc, char** argv) {
  options o;
  if (const char* secret = std::getenv("TALLY_JWT_SECRET")) o.jwt_secret = secret;
  if (const char* admin = std::getenv("TALLY_ADMIN_TOKEN")) o.admin_token = admin;
  if (argc < 2) usage_error("missing MODE");
  o.mode = argv[1];
  if (o.mode == "-h" || o.mode == "--help") {
    std::cout << usage_text;
    std::exit(0);
  }
  for (int i = 2; i < argc; ++i) {
    std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage_error(flag + " needs a value");
      return argv[++i];
    };
    if (flag == "--url") parse_url(o, value());
    else if (flag == "-c" || flag == "--connections") o.connections = parse_int(flag, value());
    else if (flag == "-d" || flag == "--duration") o.duration_s = parse_seconds(flag, value()), o.duration_given = true;
    else if (flag == "-w" || flag == "--warmup") o.warmup_s = parse_seconds(flag, value()), o.warmup_given = true;
    else if (flag == "-n" || flag == "--requests") o.requests = parse_int(flag, value());
    else if (flag == "--threads") o.threads = static_cast<int>(parse_int(flag, value()));
    else if (flag == "--timeout-ms") o.timeout_ms = static_cast<int>(parse_int(flag, value()));
    else if (flag == "--path") o.path = value();
    else if (flag == "--tokens") o.tokens_file = value();
    else if (flag == "--users") o.users_file = value();
    else if (flag == "--jwt-secret") o.jwt_secret = value();
    else if (flag == "--admin-token") o.admin_token = value();
    else if (flag == "--token-ttl-s") o.token_ttl_s = parse_int(flag, value());
    else if (flag == "--amount") o.amount = parse_int(flag, value());
    else if (flag == "--grant") o.grant = parse_int(flag, value());
    else if (flag == "--expect") o.expect = value();
    else if (flag == "--label") o.label = value();
    else if (flag == "--journal") o.verify.journal_path = value();
    else if (flag == "--seed") o.verify.seed = parse_int(flag, value());
    else if (flag == "--abandon-pct") o.verify.abandon_pct = static_cast<int>(parse_int(flag, value()));
    else if (flag == "--retry-pct") o.verify.retry_pct = static_cast<int>(parse_int(flag, value()));
    else if (flag == "--mismatch-pct") o.verify.mismatch_pct = static_cast<int>(parse_int(flag, value()));
    else if (flag == "--hot-users") o.verify.hot_users = parse_int(flag, value());
    else if (flag == "--hot-pct") o.verify.hot_pct = static_cast<int>(parse_int(flag, value()));
    else if (flag == "--amount-max") o.verify.amount_max = parse_int(flag, value());
    else usage_error("unknown option " + flag);
  }
  if (o.connections < 1) usage_error("--connections must be >= 1");
  if (o.threads < 1) usage_error("--threads must be >= 1");
  if (o.timeout_ms < 1) usage_error("--timeout-ms must be >= 1");
  if (o.amount < 1 || o.amount > amount_max) usage_error("--amount must be 1..10^9");
  if (o.grant < 1 || o.grant > amount_max) usage_error("--grant must be 1..10^9");
  if (o.verify.amount_max < 1 || o.verify.amount_max >= amount_max) usage_error("--amount-max must be 1..10^9-1");
  int pct_sum = o.verify.abandon_pct + o.verify.retry_pct + o.verify.mismatch_pct;
  if (o.verify.abandon_pct < 0 || o.verify.retry_pct < 0 || o.verify.mismatch_pct < 0 || pct_sum > 100)
    usage_error("verify percentages must be >= 0 and sum to <= 100");
  return o;
}

// ---------------------------------------------------------------- statistics

/// The measured part of a run: [measure_from, stop_at].
struct run_window {
  steady::time_point start;
  steady::time_point measure_from;
  steady::time_point stop_at;  ///< time_point::max() for a count-limited run
  bool timed = false;
};

/// Per io thread, merged at the end (no sharing on the hot path).
struct thread_stats {
  std::vector<uint32_t> latency_us;
  std::map<int, uint64_t> statuses;
  std::map<std::string, uint64_t> errors;
  uint64_t abandoned = 0;
  steady::time_point last_response{};
  /// Connections of this thread still running; the last one to finish
  /// cancels the hard stop so a timed run ends without waiting for it.
  size_t live_connections = 0;
  asio::steady_timer* hard_stop = nullptr;
};

// ---------------------------------------------------------------- connection

/// One keep-alive connection: connect, then write / read in a loop until the
/// workload runs dry or the window ends. Reconnects after any transport error
/// or `Connection: close`.
class connection : public std::enable_shared_from_this<connection> {
public:
  connection(asio::io_context& io, tcp::endpoint endpoint, size_t index, workload& load, thread_stats& stats,
             const run_window& window, std::chrono::milliseconds timeout)
      : io_(io), endpoint_(endpoint), index_(index), load_(load), stats_(stats), window_(window),
        timeout_(timeout), retry_timer_(io) {}

  void start() { connect(); }

private:
  void connect() {
    stream_.emplace(io_);
    buffer_.consume(buffer_.size());
    stream_->expires_after(timeout_);
    stream_->async_connect(endpoint_, [self = shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
  }

  void on_connect(beast::error_code ec) {
    if (ec) {
      count_error("connect");
      if (++connect_failures_ >= connect_failures_max || steady::now() >= window_.stop_at) return close();
      retry_timer_.expires_after(connect_retry_delay);
      retry_timer_.async_wait([self = shared_from_this()](beast::error_code) { self->connect(); });
      return;
    }
    connect_failures_ = 0;
    stream_->socket().set_option(tcp::no_delay(true));
    send_next();
  }

  void send_next() {
    if (steady::now() >= window_.stop_at) return close();
    auto planned = load_.next(index_);
    if (!planned) return close();
    current_ = std::move(*planned);
    size_t bytes = current_.bytes.size();
    if (current_.ending == request_ending::close_after_partial) bytes /= 2;
    sent_at_ = steady::now();
    stream_->expires_after(timeout_);
    asio::async_write(*stream_, asio::buffer(current_.bytes.data(), bytes),
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->on_write(ec); });
  }

  void on_write(beast::error_code ec) {
    if (ec) return fail("write", ec);
    if (current_.ending != request_ending::read_response) {
      ++stats_.abandoned;
      load_.on_abandoned(index_, current_.tag);
      stream_->socket().close(ec);
      return connect();
    }
    parser_.emplace();
    parser_->body_limit(response_body_bytes_max);
    stream_->expires_after(timeout_);
    http::async_read(*stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec) return fail("read", ec);
    auto done = steady::now();
    auto& response = parser_->get();
    int status = static_cast<int>(response.result_int());
    if (done >= window_.measure_from && done <= window_.stop_at) {
      auto micros = std::chrono::duration_cast<std::chrono::microseconds>(done - sent_at_).count();
      stats_.latency_us.push_back(static_cast<uint32_t>(std::min<int64_t>(micros, UINT32_MAX)));
      ++stats_.statuses[status];
      stats_.last_response = done;
    }
    response_view view;
    view.status = status;
    view.body = response.body();
    auto replayed = response.find("Idempotent-Replayed");
    view.replayed = replayed != response.end() && replayed->value() == "true";
    load_.on_response(index_, current_.tag, view);
    if (!response.keep_alive()) {
      stream_->socket().close(ec);
      return connect();
    }
    send_next();
  }

  void fail(const char* stage, beast::error_code ec) {
    std::string what = ec == beast::error::timeout ? "timeout" : std::string(stage) + ": " + ec.message();
    count_error(ec == beast::error::timeout ? "timeout" : stage);
    load_.on_failed(index_, current_.tag, what);
    if (steady::now() >= window_.stop_at) return close();
    connect();
  }

  void count_error(const std::string& kind) {
    auto now = steady::now();
    if (now >= window_.measure_from && now <= window_.stop_at) ++stats_.errors[kind];
  }

  /// Ends this connection for good (once) and tells the thread.
  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    if (stream_) stream_->socket().shutdown(tcp::socket::shutdown_both, ignored);
    if (stream_) stream_->socket().close(ignored);
    if (--stats_.live_connections == 0 && stats_.hard_stop) stats_.hard_stop->cancel();
  }

  asio::io_context& io_;
  tcp::endpoint endpoint_;
  size_t index_;
  workload& load_;
  thread_stats& stats_;
  const run_window& window_;
  std::chrono::milliseconds timeout_;
  asio::steady_timer retry_timer_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::optional<http::response_parser<http::string_body>> parser_;
  planned_request current_;
  steady::time_point sent_at_;
  int connect_failures_ = 0;
  bool closed_ = false;
};

// ---------------------------------------------------------------- throughput workloads

/// charge / get / balance / grant: request i goes to user i mod users, so one
/// user = one hot user, many = spread. Thread-safe (one atomic counter).
class cycling_workload : public workload {
public:
  cycling_workload(const options& o, token_source& tokens, std::string host_header)
      : o_(o), tokens_(tokens), host_header_(std::move(host_header)), limit_(o.requests) {
    std::mt19937_64 random(std::random_device{}());
    key_prefix_ = "lc-" + random_hex(random, 6) + "-";
    amount_body_ = R"({"amount":)" + std::to_string(o.amount) + "}";
    grant_body_ = R"({"amount":)" + std::to_string(o.grant) + R"(,"reason":"bench"})";
  }

  std::optional<planned_request> next(size_t) override {
    uint64_t i = issued_.fetch_add(1, std::memory_order_relaxed);
    if (limit_ != 0 && i >= limit_) return std::nullopt;
    planned_request request;
    request.tag = i;
    std::string& out = request.bytes;
    out.reserve(512);
    if (o_.mode == "get") {
      out = "GET " + o_.path + " HTTP/1.1\r\nHost: " + host_header_ + "\r\n";
      if (tokens_.size() > 0) out += "Authorization: Bearer " + tokens_.token(i % tokens_.size()) + "\r\n";
      out += "\r\n";
    } else if (o_.mode == "balance") {
      out = "GET /v1/me/balance HTTP/1.1\r\nHost: " + host_header_ + "\r\nAuthorization: Bearer "
            + tokens_.token(i % tokens_.size()) + "\r\n\r\n";
    } else if (o_.mode == "charge") {
      out = "POST /v1/me/charges HTTP/1.1\r\nHost: " + host_header_ + "\r\nAuthorization: Bearer "
            + tokens_.token(i % tokens_.size()) + "\r\nContent-Type: application/json\r\nIdempotency-Key: "
            + key_prefix_ + std::to_string(i) + "\r\nContent-Length: " + std::to_string(amount_body_.size())
            + "\r\n\r\n" + amount_body_;
    } else {  // grant: the key names user and amount, so re-running the same grant replays
      const auto& user = tokens_.user_id(i % tokens_.size());
      out = "POST /v1/admin/users/" + user + "/credits HTTP/1.1\r\nHost: " + host_header_
            + "\r\nAuthorization: Bearer " + o_.admin_token + "\r\nContent-Type: application/json\r\n"
            + "Idempotency-Key: bench-grant-" + user + "-" + std::to_string(o_.grant)
            + "\r\nContent-Length: " + std::to_string(grant_body_.size()) + "\r\n\r\n" + grant_body_;
    }
    return request;
  }

  void on_response(size_t, uint64_t, const response_view&) override {}

private:
  const options& o_;
  token_source& tokens_;
  std::string host_header_;
  uint64_t limit_;
  std::atomic<uint64_t> issued_{0};
  std::string key_prefix_;
  std::string amount_body_;
  std::string grant_body_;
};

// ---------------------------------------------------------------- summary

/// Parses "2xx,404" into a predicate on statuses.
bool status_expected(const std::string& expect, int status) {
  std::stringstream items(expect);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item.size() == 3 && (item[1] == 'x' || item[1] == 'X') && status / 100 == item[0] - '0') return true;
    if (item == std::to_string(status)) return true;
  }
  return false;
}

double percentile_ms(const std::vector<uint32_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(std::ceil(p / 100.0 * sorted.size()));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1] / 1000.0;
}

int report(const options& o, const run_window& window, std::vector<thread_stats>& per_thread) {
  thread_stats all;
  for (auto& s : per_thread) {
    all.latency_us.insert(all.latency_us.end(), s.latency_us.begin(), s.latency_us.end());
    for (auto& [status, count] : s.statuses) all.statuses[status] += count;
    for (auto& [kind, count] : s.errors) all.errors[kind] += count;
    all.abandoned += s.abandoned;
    all.last_response = std::max(all.last_response, s.last_response);
  }
  std::sort(all.latency_us.begin(), all.latency_us.end());
  double seconds = window.timed ? std::chrono::duration<double>(window.stop_at - window.measure_from).count()
                                : std::chrono::duration<double>(all.last_response - window.start).count();
  if (seconds <= 0) seconds = 1e-9;
  size_t responses = all.latency_us.size();
  double rps = responses / seconds;

  bool unexpected = false;
  uint64_t error_count = 0;
  for (auto& [kind, count] : all.errors) error_count += count;
  if (!o.expect.empty()) {
    if (error_count > 0) unexpected = true;
    for (auto& [status, count] : all.statuses)
      if (!status_expected(o.expect, status)) unexpected = true;
  }

  char numbers[256];
  std::snprintf(numbers, sizeof numbers,
                "\"duration_s\":%.3f,\"requests\":%zu,\"rps\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
                "\"p99_ms\":%.3f,\"max_ms\":%.3f",
                seconds, responses, rps, percentile_ms(all.latency_us, 50), percentile_ms(all.latency_us, 90),
                percentile_ms(all.latency_us, 99), percentile_ms(all.latency_us, 100));
  std::ostringstream json;
  json << "{\"mode\":\"" << json_escape(o.mode) << "\",\"label\":\"" << json_escape(o.label)
       << "\",\"connections\":" << o.connections << ",\"threads\":" << o.threads << "," << numbers
       << ",\"status\":{";
  std::ostringstream human_status;
  bool first = true;
  for (auto& [status, count] : all.statuses) {
    json << (first ? "" : ",") << "\"" << status << "\":" << count;
    human_status << (first ? "" : " ") << status << "=" << count;
    first = false;
  }
  json << "},\"errors\":{";
  first = true;
  for (auto& [kind, count] : all.errors) {
    json << (first ? "" : ",") << "\"" << json_escape(kind) << "\":" << count;
    first = false;
  }
  json << "},\"abandoned\":" << all.abandoned << ",\"unexpected\":" << (unexpected ? "true" : "false") << "}";
  std::cout << json.str() << std::endl;

  char human[512];
  std::snprintf(human, sizeof human,
                "%s%s%s: %.0f req/s over %.1f s, %zu conns; latency ms p50 %.2f p90 %.2f p99 %.2f max %.2f;"
                " status %s; transport errors %llu%s",
                o.mode.c_str(), o.label.empty() ? "" : " ", o.label.c_str(), rps, seconds, o.connections,
                percentile_ms(all.latency_us, 50), percentile_ms(all.latency_us, 90),
                percentile_ms(all.latency_us, 99), percentile_ms(all.latency_us, 100),
                human_status.str().empty() ? "-" : human_status.str().c_str(),
                static_cast<unsigned long long>(error_count), unexpected ? " (UNEXPECTED)" : "");
  std::cerr << human << std::endl;
  return unexpected ? 3 : 0;
}

// ---------------------------------------------------------------- run

int run(options o) {
  bool per_user_mode = o.mode == "charge" || o.mode == "balance" || o.mode == "grant" || o.mode == "verify";
  if (o.mode != "get" && !per_user_mode) usage_error("unknown mode " + o.mode);
  if (o.mode == "grant" && o.users_file.empty()) usage_error("grant needs --users (user ids)");
  if (o.mode == "grant" && o.admin_token.empty()) usage_error("grant needs --admin-token or TALLY_ADMIN_TOKEN");
  if (o.mode == "verify") {
    if (o.users_file.empty()) usage_error("verify needs --users");
    if (o.verify.journal_path.empty()) usage_error("verify needs --journal");
    o.threads = 1;  // the verify workload keeps shared state without locks
  }
  if (per_user_mode && o.tokens_file.empty() && o.users_file.empty()) usage_error(o.mode + " needs --tokens or --users");
  if (!o.tokens_file.empty() && !o.users_file.empty()) usage_error("give --tokens or --users, not both");
  if (o.mode != "grant" && !o.users_file.empty() && o.jwt_secret.empty())
    usage_error("--users needs TALLY_JWT_SECRET or --jwt-secret to mint tokens");

  // Count-limited modes: each user once unless a duration or count is given.
  bool count_mode_default = o.mode == "balance" || o.mode == "grant" || o.mode == "verify";
  if (o.requests == 0 && count_mode_default && !o.duration_given) o.requests = SIZE_MAX;  // resolved below
  if (o.requests != 0 && !o.warmup_given) o.warmup_s = 0;
  if (o.mode == "verify" && !o.warmup_given) o.warmup_s = 0;

  token_source tokens(o.tokens_file, o.users_file, o.jwt_secret, o.token_ttl_s);
  if (o.requests == SIZE_MAX) o.requests = o.mode == "verify" ? o.verify.requests : tokens.size();

  asio::io_context resolver_io;
  tcp::resolver resolver(resolver_io);
  auto endpoints = resolver.resolve(o.host, o.port);
  tcp::endpoint endpoint = *endpoints.begin();
  std::string host_header = o.host + ":" + o.port;

  std::unique_ptr<workload> load;
  if (o.mode == "verify") {
    o.verify.host_header = host_header;
    o.verify.requests = o.requests;
    load = make_verify_workload(o.verify, tokens);
  } else {
    load = std::make_unique<cycling_workload>(o, tokens, host_header);
  }

  run_window window;
  window.start = steady::now();
  if (o.requests == 0) {
    window.timed = true;
    window.measure_from = window.start + std::chrono::duration_cast<steady::duration>(
                                           std::chrono::duration<double>(o.warmup_s));
    window.stop_at = window.measure_from + std::chrono::duration_cast<steady::duration>(
                                             std::chrono::duration<double>(o.duration_s));
  } else {
    window.measure_from = window.start;
    window.stop_at = steady::time_point::max();
  }

  // Declared first so destroyed last: timers must die before their
  // io_context. Connections left in handlers touch nothing when destroyed.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<std::unique_ptr<asio::steady_timer>> hard_stops;
  std::vector<thread_stats> per_thread(o.threads);
  for (int t = 0; t < o.threads; ++t) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    if (!window.timed) continue;
    // Requests still open stop_grace after the window are cut off.
    auto timer = std::make_unique<asio::steady_timer>(*contexts[t], window.stop_at + stop_grace);
    timer->async_wait([&io = *contexts[t]](beast::error_code ec) {
      if (!ec) io.stop();
    });
    per_thread[t].hard_stop = timer.get();
    hard_stops.push_back(std::move(timer));
  }
  for (size_t c = 0; c < o.connections; ++c) ++per_thread[c % o.threads].live_connections;
  for (size_t c = 0; c < o.connections; ++c) {
    size_t t = c % o.threads;
    std::make_shared<connection>(*contexts[t], endpoint, c, *load, per_thread[t], window,
                                 std::chrono::milliseconds(o.timeout_ms))
      ->start();
  }
  std::vector<std::thread> threads;
  for (int t = 1; t < o.threads; ++t) threads.emplace_back([&io = *contexts[t]] { io.run(); });
  contexts[0]->run();
  for (auto& thread : threads) thread.join();
  load->finish();
  return report(o, window, per_thread);
}

} // namespace

} // namespace loadclient

int main(int argc, char** argv) {
  try {
    return loadclient::run(loadclient::parse_options(argc, argv));
  } catch (const std::exception& e) {
    std::cerr << "loadclient: " << e.what() << "\n";
    return 1;
  }
}
