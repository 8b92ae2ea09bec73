#pragma once
// The one narrow door from the actors to the generation provider, like the
// gateway in the other direction: actors never see Beast. http/ implements
// it with an asynchronous HTTP client (provider_client.cpp) or a simulated
// provider (simulated_provider.cpp); actors/ wraps either in the circuit
// breaker (provider_guard.hpp).
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "protocols/generations.hpp"

namespace tally {

/// One job as the provider receives it: POST {id, model_id, prompt, params}.
struct generation_job {
  uuid id{};
  uuid user_id{};
  std::string model_id;
  std::string prompt;
  std::string params_json;
};

/// Called exactly once per submitted job, on a provider thread: the
/// receiver must hop to its own executor (the user actor: a command).
using provider_callback = std::function<void(provider_answer answer, std::chrono::microseconds latency)>;

/// The breaker's answer to "may a job be created now?".
struct provider_admission {
  bool allowed = false;
  /// Allowed as the one probe of a half-open breaker: its answer decides.
  bool probe = false;
  /// When refused: seconds to wait (Retry-After, >= 1).
  int retry_after_s = 0;
};

class generation_provider {
public:
  virtual ~generation_provider() = default;

  /// Whether a new job may be created now. A probe admission must end in
  /// submit() or give_back(), or the breaker waits for it.
  virtual provider_admission admit() { return {true, false, 0}; }

  /// Returns an admission that will not be submitted (the create failed
  /// after admit(): no credits, a failed commit).
  virtual void give_back(const provider_admission&) {}

  /// Sends the job; `done` runs once with the answer (ok, error or time-out).
  virtual void submit(generation_job job, const provider_admission& admission, provider_callback done) = 0;

  /// Shutdown, after the actors stopped: no `done` runs after this returns.
  virtual void stop() {}
};

/// Settings of the provider client and of the breaker (API.md defaults).
struct provider_config {
  /// POST target; empty = the built-in simulated provider.
  std::string url;
  /// Simulated provider: answer after this, failing this share of jobs.
  std::chrono::milliseconds simulated_delay{3'000};
  double simulated_failure_rate = 0.0;
  /// HTTP client: connect and whole-request time-outs, calls in flight at
  /// most (more wait in a bounded queue), idle keep-alive connections kept.
  std::chrono::milliseconds connect_timeout{2'000};
  std::chrono::milliseconds request_timeout{60'000};
  size_t concurrent_calls_max = 64;
  size_t queued_calls_max = 10'000;
  size_t idle_connections_max = 16;
  /// Breaker: consecutive failures that open it, and for how long.
  int breaker_failures = 5;
  std::chrono::milliseconds breaker_open{30'000};
};

} // namespace tally
