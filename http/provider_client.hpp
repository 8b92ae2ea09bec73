#pragma once
// The generation providers behind protocols/generation_provider.hpp, both
// on an Asio thread of their own (never a CAF worker, never the server's
// threads):
//
//  - provider_client: an asynchronous Beast HTTP/1.1 client. Each job is
//    POST {id, model_id, prompt, params} to the configured URL; a 2xx with
//    a string "result_url" completes it, anything else (status, body,
//    connect or request time-out, refused connection) fails it. Keep-alive
//    connections are pooled (at most idle_connections_max idle); at most
//    concurrent_calls_max calls are in flight, the rest wait in a bounded
//    queue (beyond it a job fails at once: "provider_overloaded"). A pooled
//    connection the server closed meanwhile is retried once on a fresh one.
//    Only http:// URLs (a TLS-terminating sidecar serves https providers).
//
//  - simulated_provider: completes each job after a delay, failing a given
//    share, so the service runs with no provider at all.
//
// `done` runs on the provider's thread, exactly once per job unless the
// provider is stopped first (then the generation stays processing in the
// store and the next start fails it as interrupted).
#include <memory>
#include <optional>
#include <string>

#include "protocols/generation_provider.hpp"

namespace tally {

/// host, port and target of an http:// URL; nullopt (and `error`) otherwise.
struct provider_url {
  std::string host;
  std::string port;
  std::string target;
};
std::optional<provider_url> parse_provider_url(const std::string& url, std::string& error);

/// Builds the configured provider: the HTTP client for config.url, else the
/// simulated one. Throws std::invalid_argument for a malformed URL.
std::shared_ptr<generation_provider> make_generation_provider(const provider_config& config);

/// The request body of a job (canonical field order).
std::string provider_request_body(const generation_job& job);

/// A provider response as an answer: 2xx with a string result_url is ok.
provider_answer provider_answer_of(int status, const std::string& body);

} // namespace tally
