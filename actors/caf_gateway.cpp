#include "actors/caf_gateway.hpp"

#include <utility>

#include <prometheus/counter.h>

#include "actors/dispatch.hpp"
#include "protocols/auth_tokens.hpp"
#include "protocols/metrics.hpp"

namespace tally {

namespace {

failure shutting_down() {
  return {error_code::shutting_down, "the service is shutting down", 1};
}

failure invalid_token() {
  return {error_code::invalid_token, "the token is invalid", 0};
}

/// Counts the 429s of one route, then answers as `done` would.
template <class T>
reply<T> counting_rejections(prometheus::Counter* counter, reply<T> done) {
  if (counter == nullptr) return done;
  return reply<T>{[counter, done](outcome<T> result) {
    if (!result.ok() && result.error().code == error_code::rate_limited) counter->Increment();
    done(std::move(result));
  }};
}

prometheus::Counter* rejections(metrics* process_metrics, const char* route) {
  if (process_metrics == nullptr) return nullptr;
  return &process_metrics->rate_limit_rejections.Add({{"route", route}});
}

} // namespace

caf_gateway::caf_gateway(registry_actor registry, const store_health& health,
                         metrics* process_metrics)
  : registry_(std::move(registry)),
    health_(health),
    rejected_magic_link_(rejections(process_metrics, "/v1/auth/magic-link")),
    rejected_code_(rejections(process_metrics, "/v1/auth/code")),
    rejected_code_verify_(rejections(process_metrics, "/v1/auth/code/verify")),
    rejected_refresh_(rejections(process_metrics, "/v1/auth/refresh")),
    rejected_magic_link_verify_(rejections(process_metrics, "/v1/auth/magic-link/verify")) {}

template <class Command>
void caf_gateway::dispatch_anonymous(const uuid& key, Command command,
                                     reply<typename Command::result> done) {
  if (!gate_) return dispatch(registry_, key, std::move(command), std::move(done));
  caf::anon_send(gate_, key, to_entity_command(std::move(command)), completion{std::move(done)});
}

void caf_gateway::get_balance(const caller& who, reply<balance> done) {
  if (closed()) return done(shutting_down());
  dispatch(registry_, who.user, balance_request{who.session}, std::move(done));
}

void caf_gateway::get_ledger(const caller& who, ledger_query query, reply<ledger_page> done) {
  if (closed()) return done(shutting_down());
  dispatch(registry_, who.user, ledger_request{who.session, std::move(query)}, std::move(done));
}

void caf_gateway::charge(const caller& who, charge_command command,
                         reply<mutation_reply<charge_result>> done) {
  if (closed()) return done(shutting_down());
  dispatch(registry_, who.user, charge_request{who.session, std::move(command)}, std::move(done));
}

void caf_gateway::credit(const uuid& user, credit_command command,
                         reply<mutation_reply<credit_result>> done) {
  if (closed()) return done(shutting_down());
  dispatch(registry_, user, credit_request{std::move(command)}, std::move(done));
}

void caf_gateway::request_magic_link(std::string email, request_origin origin,
                                     reply<login_challenge> done) {
  if (closed()) return done(shutting_down());
  auto identity = identity_id(identity_kind::email, email);
  dispatch_anonymous(identity, magic_link_request{std::move(email), std::move(origin)},
                     counting_rejections(rejected_magic_link_, std::move(done)));
}

void caf_gateway::verify_magic_link(std::string token, request_origin origin,
                                    reply<session_grant> done) {
  if (closed()) return done(shutting_down());
  auto identity = magic_token_identity(token);
  if (!identity) return done(invalid_token());
  dispatch_anonymous(*identity, verify_link_request{std::move(token), std::move(origin)},
                     counting_rejections(rejected_magic_link_verify_, std::move(done)));
}

void caf_gateway::request_code(std::string phone, request_origin origin,
                               reply<login_challenge> done) {
  if (closed()) return done(shutting_down());
  auto identity = identity_id(identity_kind::phone, phone);
  dispatch_anonymous(identity, code_request{std::move(phone), std::move(origin)},
                     counting_rejections(rejected_code_, std::move(done)));
}

void caf_gateway::verify_code(std::string phone, std::string code, request_origin origin,
                              reply<session_grant> done) {
  if (closed()) return done(shutting_down());
  auto identity = identity_id(identity_kind::phone, phone);
  dispatch_anonymous(identity,
                     verify_code_request{std::move(phone), std::move(code), std::move(origin)},
                     counting_rejections(rejected_code_verify_, std::move(done)));
}

void caf_gateway::refresh(std::string refresh_token, request_origin origin,
                          reply<session_grant> done) {
  if (closed()) return done(shutting_down());
  auto route = refresh_token_route(refresh_token);
  if (!route) return done(invalid_token());
  dispatch_anonymous(route->user,
                     refresh_request{route->session, std::move(refresh_token), std::move(origin)},
                     counting_rejections(rejected_refresh_, std::move(done)));
}

void caf_gateway::me(const caller& who, reply<me_view> done) {
  if (closed()) return done(shutting_down());
  dispatch(registry_, who.user, me_request{who.session}, std::move(done));
}

void caf_gateway::logout(const caller& who, request_origin origin, reply<bool> done) {
  if (closed()) return done(shutting_down());
  dispatch(registry_, who.user, logout_request{who.session, std::move(origin)}, std::move(done));
}

} // namespace tally
