#include "http/provider_client.hpp"

#include <chrono>
#include <deque>
#include <random>
#include <stdexcept>
#include <thread>
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
#include <nlohmann/json.hpp>

#include "protocols/json_writer.hpp"
#include "protocols/log.hpp"

namespace tally {

namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

/// Largest provider response body read (a result URL and a little more).
constexpr uint64_t provider_response_bytes_max = 64 * 1024;

/// One io_context on one thread, started at construction, joined by stop()
/// (or the destructor). Every handler of a provider runs there.
class io_thread {
public:
  io_thread() : work_(net::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~io_thread() { stop(); }
  void stop() {
    if (!thread_.joinable()) return;
    work_.reset();
    io_.stop();
    thread_.join();
  }
  net::io_context& io() { return io_; }

private:
  net::io_context io_;
  net::executor_work_guard<net::io_context::executor_type> work_;
  std::thread thread_;
};

std::chrono::microseconds since(steady::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(steady::now() - start);
}

// -- the HTTP client --------------------------------------------------------------

class provider_client final : public generation_provider {
public:
  provider_client(provider_config config, provider_url url) : config_(std::move(config)), url_(std::move(url)) {}
  provider_client(const provider_client&) = delete;
  provider_client& operator=(const provider_client&) = delete;
  ~provider_client() override { worker_.stop(); }
  void stop() override { worker_.stop(); }

  void submit(generation_job job, const provider_admission&, provider_callback done) override {
    auto body = provider_request_body(job);
    net::post(worker_.io(), [self = this, generation = to_string(job.id), body = std::move(body),
                             done = std::move(done)]() mutable {
      self->enqueue(std::move(generation), std::move(body), std::move(done));
    });
  }

private:
  /// One idle or busy keep-alive connection.
  struct connection {
    explicit connection(net::io_context& io) : stream(io) {}
    beast::tcp_stream stream;
    beast::flat_buffer buffer;
  };

  /// One job's call, alive until `done` ran.
  struct call {
    std::string generation;  ///< its id, for the log
    std::string body;
    provider_callback done;
    steady::time_point began = steady::now();
    steady::time_point deadline;
    std::unique_ptr<connection> link;
    bool started = false;  ///< counted in in_flight_
    bool reused = false;
    bool retried = false;
    bhttp::request<bhttp::string_body> request;
    std::optional<bhttp::response_parser<bhttp::string_body>> parser;
  };

  void enqueue(std::string generation, std::string body, provider_callback done) {
    auto job = std::make_shared<call>();
    job->generation = std::move(generation);
    job->body = std::move(body);
    job->done = std::move(done);
    job->deadline = job->began + config_.request_timeout;
    if (in_flight_ < config_.concurrent_calls_max) {
      start(job);
    } else if (queued_.size() < config_.queued_calls_max) {
      queued_.push_back(job);
    } else {
      finish(job, provider_answer{false, {}, "provider_overloaded"}, false);
    }
  }

  void start(const std::shared_ptr<call>& job) {
    ++in_flight_;
    job->started = true;
    if (!idle_.empty()) {
      job->link = std::move(idle_.back());
      idle_.pop_back();
      job->reused = true;
      send(job);
      return;
    }
    connect(job);
  }

  void connect(const std::shared_ptr<call>& job) {
    job->link = std::make_unique<connection>(worker_.io());
    job->reused = false;
    auto resolver = std::make_shared<tcp::resolver>(worker_.io());
    resolver->async_resolve(url_.host, url_.port, [self = this, job, resolver](
                                                    beast::error_code ec, tcp::resolver::results_type results) {
      if (ec) return self->fail(job, "provider_unreachable", ec);
      job->link->stream.expires_after(self->config_.connect_timeout);
      job->link->stream.async_connect(results, [self, job](beast::error_code ec, const tcp::endpoint&) {
        if (ec) return self->fail(job, ec == beast::error::timeout ? "provider_connect_timeout" : "provider_unreachable", ec);
        self->send(job);
      });
    });
  }

  void send(const std::shared_ptr<call>& job) {
    auto left = job->deadline - steady::now();
    if (left <= steady::duration::zero()) return fail(job, "provider_timeout", beast::error::timeout);
    job->request = {bhttp::verb::post, url_.target, 11};
    job->request.set(bhttp::field::host, url_.host);
    job->request.set(bhttp::field::content_type, "application/json");
    job->request.keep_alive(true);
    job->request.body() = job->body;
    job->request.prepare_payload();
    job->parser.emplace();
    job->parser->body_limit(provider_response_bytes_max);
    job->link->stream.expires_after(std::chrono::duration_cast<std::chrono::milliseconds>(left));
    bhttp::async_write(job->link->stream, job->request, [self = this, job](beast::error_code ec, size_t) {
      if (ec) return self->retry_or_fail(job, ec);
      bhttp::async_read(job->link->stream, job->link->buffer, *job->parser,
                        [self, job](beast::error_code ec, size_t) {
                          if (ec) return self->retry_or_fail(job, ec);
                          const auto& response = job->parser->get();
                          bool keep = response.keep_alive();
                          self->finish(job, provider_answer_of(response.result_int(), response.body()), keep);
                        });
    });
  }

  /// A pooled connection may have been closed by the server while idle:
  /// one more try on a fresh connection, if the deadline allows.
  void retry_or_fail(const std::shared_ptr<call>& job, beast::error_code ec) {
    if (job->reused && !job->retried && ec != beast::error::timeout) {
      job->retried = true;
      job->link.reset();
      return connect(job);
    }
    fail(job, ec == beast::error::timeout ? "provider_timeout" : "provider_error", ec);
  }

  void fail(const std::shared_ptr<call>& job, const char* why, beast::error_code ec) {
    log_event(log_level::warn, "provider call failed",
              {{"generation_id", std::string_view(job->generation)},
               {"error", std::string_view(why)},
               {"detail", std::string_view(ec.message())}});
    finish(job, provider_answer{false, {}, why}, false);
  }

  void finish(const std::shared_ptr<call>& job, provider_answer answer, bool keep_connection) {
    if (job->link && keep_connection && idle_.size() < config_.idle_connections_max) {
      job->link->stream.expires_never();
      idle_.push_back(std::move(job->link));
    }
    job->link.reset();
    auto done = std::move(job->done);
    if (done) done(std::move(answer), since(job->began));
    if (!job->started) return;  // refused before it started
    --in_flight_;
    while (in_flight_ < config_.concurrent_calls_max && !queued_.empty()) {
      auto next = queued_.front();
      queued_.pop_front();
      start(next);
    }
  }

  // First: the destructor joins its thread before anything below goes, and
  // the io_context (with any handler never run) is destroyed last.
  io_thread worker_;
  provider_config config_;
  provider_url url_;
  // Touched only on the worker's thread.
  size_t in_flight_ = 0;
  std::deque<std::shared_ptr<call>> queued_;
  std::vector<std::unique_ptr<connection>> idle_;
};

// -- the simulated provider ----------------------------------------------------------

class simulated_provider final : public generation_provider {
public:
  explicit simulated_provider(provider_config config) : config_(std::move(config)) {}
  ~simulated_provider() override { worker_.stop(); }
  void stop() override { worker_.stop(); }

  void submit(generation_job job, const provider_admission&, provider_callback done) override {
    auto started = steady::now();
    auto timer = std::make_shared<net::steady_timer>(worker_.io(), config_.simulated_delay);
    timer->async_wait([self = this, timer, job = std::move(job), done = std::move(done),
                       started](beast::error_code ec) {
      if (ec) return;  // stopping
      bool fails = std::bernoulli_distribution(self->config_.simulated_failure_rate)(self->random_);
      provider_answer answer;
      if (fails) {
        answer = {false, {}, "simulated_failure"};
      } else {
        answer = {true, "https://results.example/generations/" + to_string(job.id), {}};
      }
      done(std::move(answer), since(started));
    });
  }

private:
  io_thread worker_;  // first: joined before the rest goes (see provider_client)
  provider_config config_;
  std::mt19937_64 random_{std::random_device{}()};
};

} // namespace

std::optional<provider_url> parse_provider_url(const std::string& url, std::string& error) {
  constexpr std::string_view scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0) {
    error = "provider-url must start with http://";
    return std::nullopt;
  }
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  provider_url parsed;
  parsed.target = slash == std::string::npos ? "/" : rest.substr(slash);
  auto colon = authority.rfind(':');
  parsed.host = authority.substr(0, colon);
  parsed.port = colon == std::string::npos ? "80" : authority.substr(colon + 1);
  if (parsed.host.empty() || parsed.port.empty() ||
      parsed.port.find_first_not_of("0123456789") != std::string::npos) {
    error = "provider-url needs a host and a numeric port: " + url;
    return std::nullopt;
  }
  return parsed;
}

std::shared_ptr<generation_provider> make_generation_provider(const provider_config& config) {
  if (config.url.empty()) return std::make_shared<simulated_provider>(config);
  std::string error;
  auto url = parse_provider_url(config.url, error);
  if (!url) throw std::invalid_argument(error);
  return std::make_shared<provider_client>(config, *url);
}

std::string provider_request_body(const generation_job& job) {
  std::string out;
  out.reserve(128 + job.prompt.size() + job.params_json.size());
  json_writer json(out);
  json.begin_object();
  json.key("id").string(to_string(job.id));
  json.key("model_id").string(job.model_id);
  json.key("prompt").string(job.prompt);
  json.key("params").raw(job.params_json.empty() ? std::string_view("{}") : std::string_view(job.params_json));
  json.end_object();
  return out;
}

provider_answer provider_answer_of(int status, const std::string& body) {
  if (status < 200 || status > 299) return {false, {}, "provider_status_" + std::to_string(status)};
  auto parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return {false, {}, "provider_bad_response"};
  auto url = parsed.find("result_url");
  if (url == parsed.end() || !url->is_string() || url->get_ref<const std::string&>().empty())
    return {false, {}, "provider_bad_response"};
  return {true, url->get<std::string>(), {}};
}

} // namespace tally
