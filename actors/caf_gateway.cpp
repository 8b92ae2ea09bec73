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

/// Runs `then(done)` once the caller's user actor confirmed the session is
/// live: every tenant and subdomain call goes through here, so a logged-out
/// access token is refused on these endpoints too. Entities other than the
/// user do not hold sessions, hence this first hop.
template <class T, class Then>
void with_live_session(const registry_actor& registry, const caller& who, reply<T> done,
                       Then then) {
  reply<bool> checked(
    [done, then = std::move(then)](outcome<bool> live) mutable {
      if (live.ok()) return then(std::move(done));
      auto why = live.error();
      // The token's user does not exist: the token is no good (401).
      if (why.code == error_code::user_not_found)
        why = failure{error_code::unauthenticated, "the token's user does not exist", 0};
      done(why);
    },
    failure{error_code::store_unavailable, "the request was not completed; retry", 1});
  dispatch(registry, who.user, check_session_request{who.session}, std::move(checked));
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
    rejected_magic_link_verify_(rejections(process_metrics, "/v1/auth/magic-link/verify")),
    rejected_generation_(rejections(process_metrics, "/v1/generations")) {}

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

void caf_gateway::create_generation(const caller& who, generation_command command,
                                    reply<mutation_reply<generation_created>> done) {
  if (closed()) return done(shutting_down());
  dispatch(registry_, who.user, create_generation_request{who.session, std::move(command)},
           counting_rejections(rejected_generation_, std::move(done)));
}

void caf_gateway::get_generation(const caller& who, uuid generation, reply<generation_row> done) {
  if (closed()) return done(shutting_down());
  dispatch(registry_, who.user, get_generation_request{who.session, generation}, std::move(done));
}

void caf_gateway::list_generations(const caller& who, generation_query query, reply<generation_page> done) {
  if (closed()) return done(shutting_down());
  dispatch(registry_, who.user, list_generations_request{who.session, std::move(query)}, std::move(done));
}

void caf_gateway::cancel_generation(const caller& who, uuid generation, reply<generation_row> done) {
  if (closed()) return done(shutting_down());
  dispatch(registry_, who.user, cancel_generation_request{who.session, generation}, std::move(done));
}

// -- tenants ---------------------------------------------------------------------

void caf_gateway::create_tenant(const caller& who, std::string name, reply<tenant_view> done) {
  if (closed()) return done(shutting_down());
  with_live_session(registry_, who, std::move(done),
                    [registry = registry_, user = who.user, name = std::move(name)](auto done) {
                      dispatch(registry, random_uuid(), create_tenant_request{user, name},
                               std::move(done));
                    });
}

void caf_gateway::get_tenant(const caller& who, const uuid& tenant, reply<tenant_view> done) {
  if (closed()) return done(shutting_down());
  with_live_session(registry_, who, std::move(done),
                    [registry = registry_, user = who.user, tenant](auto done) {
                      dispatch(registry, tenant, get_tenant_request{user}, std::move(done));
                    });
}

void caf_gateway::add_member(const caller& who, const uuid& tenant, std::string email,
                             std::string role, reply<tenant_view> done) {
  if (closed()) return done(shutting_down());
  // The email's identity names its user (nil: none); the tenant decides,
  // access first, so a non-member learns nothing about the email.
  with_live_session(
    registry_, who, std::move(done),
    [registry = registry_, user = who.user, tenant, email = std::move(email),
     role = std::move(role)](reply<tenant_view> done) {
      reply<user_lookup> found(
        [registry, user, tenant, role, done](outcome<user_lookup> lookup) {
          if (!lookup.ok()) return done(lookup.error());
          dispatch(registry, tenant, add_member_request{user, lookup.value().user, role}, done);
        },
        failure{error_code::store_unavailable, "the request was not completed; retry", 1});
      dispatch(registry, identity_id(identity_kind::email, email), find_user_request{email},
               std::move(found));
    });
}

void caf_gateway::activate_module(const caller& who, const uuid& tenant, std::string module,
                                  std::string subdomain, reply<tenant_view> done) {
  if (closed()) return done(shutting_down());
  with_live_session(registry_, who, std::move(done),
                    [registry = registry_, user = who.user, tenant, module = std::move(module),
                     subdomain = std::move(subdomain)](auto done) {
                      dispatch(registry, tenant, activate_module_request{user, module, subdomain},
                               std::move(done));
                    });
}

void caf_gateway::deactivate_module(const caller& who, const uuid& tenant,
                                    reply<tenant_view> done) {
  if (closed()) return done(shutting_down());
  with_live_session(registry_, who, std::move(done),
                    [registry = registry_, user = who.user, tenant](auto done) {
                      dispatch(registry, tenant, deactivate_module_request{user}, std::move(done));
                    });
}

void caf_gateway::subdomain_status(const caller& who, std::string name,
                                   reply<subdomain_view> done) {
  if (closed()) return done(shutting_down());
  with_live_session(registry_, who, std::move(done),
                    [registry = registry_, name = std::move(name)](auto done) {
                      dispatch(registry, subdomain_key(name), subdomain_status_request{name},
                               std::move(done));
                    });
}

void caf_gateway::deliver_webhook(webhook_delivery delivery, reply<webhook_outcome> done) {
  if (closed()) return done(shutting_down());
  auto event = webhook_event_key(delivery.event_id);
  dispatch(registry_, event, webhook_delivery_request{std::move(delivery)}, std::move(done));
}

void caf_gateway::get_webhook_event(std::string event_id, reply<webhook_event_view> done) {
  if (closed()) return done(shutting_down());
  auto event = webhook_event_key(event_id);
  dispatch(registry_, event, webhook_event_request{std::move(event_id)}, std::move(done));
}

} // namespace tally
