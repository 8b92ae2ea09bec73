// The `verify` workload: many virtual users charging with idempotency keys,
// the way unreliable clients really behave. Each request is one of:
//
//   new       a fresh key and amount 1..amount_max
//   abandon   a fresh key, but the socket is closed right after sending it
//             (or after half of it): the outcome is unknown to the client
//   retry     an earlier key (often one still in flight on another
//             connection) with the SAME body: must replay, or 409 while the
//             first is in flight, never charge twice
//   mismatch  a key that already got a 2xx, with a DIFFERENT body: must be
//             422 IDEMPOTENCY_KEY_REUSED (or 409/429/503), never 2xx
//
// Every attempt and its outcome goes to the journal (one JSON object per
// line); bench/loadgen settles the unknown outcomes and checks the
// invariants through the API and the store. This file only generates load
// and records; judging lives in one place, loadgen.
#include <fstream>
#include <iostream>

#include "bench/loadclient.hpp"

namespace loadclient {

namespace {

/// Retries pick one of the newest keys half of the time, so the original is
/// often still in flight on another connection (exercises 409 IN_USE and the
/// in-flight dedupe), and any older key otherwise (exercises stored replays).
constexpr size_t recent_keys_window = 64;
constexpr int recent_retry_pct = 50;

class verify_workload : public workload {
public:
  verify_workload(const verify_options& options, token_source& tokens)
      : o_(options), tokens_(tokens), random_(options.seed) {
    std::mt19937_64 run_random(std::random_device{}());
    key_prefix_ = "lg-" + std::to_string(options.seed) + "-" + std::to_string(run_random() % 1'000'000'000) + "-";
    tokens_by_user_.reserve(tokens.size());
    for (size_t u = 0; u < tokens.size(); ++u) tokens_by_user_.push_back(tokens.token(u));
  }

  std::optional<planned_request> next(size_t) override {
    if (o_.requests != 0 && attempts_.size() >= o_.requests) return std::nullopt;
    int roll = static_cast<int>(random_() % 100);
    planned_request request;
    attempt a;
    if (roll < o_.abandon_pct) {
      a.key_index = new_key();
      a.kind = "abandon";
      request.ending = random_() % 2 ? request_ending::close_after_send : request_ending::close_after_partial;
    } else if (roll < o_.abandon_pct + o_.retry_pct && !keys_.empty()) {
      a.key_index = pick_retry_key();
      a.kind = "retry";
    } else if (roll < o_.abandon_pct + o_.retry_pct + o_.mismatch_pct && !answered_keys_.empty()) {
      a.key_index = answered_keys_[random_() % answered_keys_.size()];
      a.kind = "mismatch";
    } else {
      a.key_index = new_key();
      a.kind = "new";
    }
    const auto& key = keys_[a.key_index];
    a.amount = a.kind == std::string_view("mismatch") ? key.amount + 1 : key.amount;
    std::string body = R"({"amount":)" + std::to_string(a.amount) + "}";
    request.bytes = "POST /v1/me/charges HTTP/1.1\r\nHost: " + o_.host_header + "\r\nAuthorization: Bearer "
                    + tokens_by_user_[key.user] + "\r\nContent-Type: application/json\r\nIdempotency-Key: "
                    + key.key + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    request.tag = attempts_.size();
    attempts_.push_back(std::move(a));
    return request;
  }

  void on_response(size_t, uint64_t tag, const response_view& response) override {
    auto& a = attempts_.at(tag);
    a.status = response.status;
    a.replayed = response.replayed;
    a.body = std::string(response.body);
    bool success = response.status >= 200 && response.status < 300;
    auto& key = keys_[a.key_index];
    if (success && a.kind != std::string_view("mismatch") && !key.answered) {
      key.answered = true;
      answered_keys_.push_back(a.key_index);
    }
  }

  void on_abandoned(size_t, uint64_t tag) override { attempts_.at(tag).error = "abandoned"; }

  void on_failed(size_t, uint64_t tag, std::string_view what) override {
    if (tag < attempts_.size() && attempts_[tag].error.empty()) attempts_[tag].error = std::string(what);
  }

  void finish() override {
    std::ofstream out(o_.journal_path, std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write journal " + o_.journal_path);
    for (size_t n = 0; n < attempts_.size(); ++n) {
      const auto& a = attempts_[n];
      const auto& key = keys_[a.key_index];
      out << "{\"n\":" << n << ",\"t\":\"" << a.kind << "\",\"u\":" << key.user << ",\"k\":\""
          << json_escape(key.key) << "\",\"a\":" << a.amount << ",\"s\":" << a.status
          << ",\"r\":" << (a.replayed ? 1 : 0) << ",\"b\":\"" << json_escape(a.body) << "\",\"e\":\""
          << json_escape(a.error) << "\"}\n";
    }
    if (!out.flush()) throw std::runtime_error("cannot write journal " + o_.journal_path);
    std::cerr << "verify: " << attempts_.size() << " attempts on " << keys_.size() << " keys, journal "
              << o_.journal_path << "\n";
  }

private:
  struct key_state {
    uint32_t user = 0;
    std::string key;
    int64_t amount = 0;
    bool answered = false;  ///< some attempt with this key and its own body got a 2xx
  };

  struct attempt {
    uint32_t key_index = 0;
    const char* kind = "new";
    int64_t amount = 0;
    int status = 0;  ///< 0 = no response (abandoned, failed, or cut off at the end)
    bool replayed = false;
    std::string body;
    std::string error;
  };

  uint32_t pick_user() {
    size_t users = tokens_by_user_.size();
    if (o_.hot_users == 0 || o_.hot_users >= users) return random_() % users;
    if (static_cast<int>(random_() % 100) < o_.hot_pct) return random_() % o_.hot_users;
    return o_.hot_users + random_() % (users - o_.hot_users);
  }

  uint32_t new_key() {
    key_state key;
    key.user = pick_user();
    key.key = key_prefix_ + std::to_string(keys_.size());
    key.amount = 1 + static_cast<int64_t>(random_() % o_.amount_max);
    keys_.push_back(std::move(key));
    return static_cast<uint32_t>(keys_.size() - 1);
  }

  uint32_t pick_retry_key() {
    size_t count = keys_.size();
    if (static_cast<int>(random_() % 100) < recent_retry_pct) {
      size_t window = std::min(count, recent_keys_window);
      return static_cast<uint32_t>(count - 1 - random_() % window);
    }
    return static_cast<uint32_t>(random_() % count);
  }

  verify_options o_;
  token_source& tokens_;
  std::mt19937_64 random_;
  std::string key_prefix_;
  std::vector<std::string> tokens_by_user_;
  std::vector<key_state> keys_;
  std::vector<uint32_t> answered_keys_;
  std::vector<attempt> attempts_;
};

} // namespace

std::unique_ptr<workload> make_verify_workload(const verify_options& options, token_source& tokens) {
  return std::make_unique<verify_workload>(options, tokens);
}

} // namespace loadclient
