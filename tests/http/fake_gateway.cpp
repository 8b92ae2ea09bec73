#include "fake_gateway.hpp"

#include <stdexcept>

namespace tally::test {

template <class T>
void fake_gateway::answer(reply<T> done, T value) {
  std::function<void()> deliver;
  if (fail_with) {
    deliver = [done, why = *fail_with] { done(outcome<T>{why}); };
  } else {
    deliver = [done, value] { done(outcome<T>{value}); };
  }
  if (hold) {
    std::lock_guard<std::mutex> lock(mutex_);
    held_.push_back(std::move(deliver));
    return;
  }
  deliver();
}

template <class Entry>
void fake_gateway::record(std::vector<Entry>& calls, Entry entry) {
  if (throw_on_call) throw std::runtime_error("fake_gateway: scripted throw");
  std::lock_guard<std::mutex> lock(mutex_);
  calls.push_back(std::move(entry));
}

void fake_gateway::get_balance(const caller& who, reply<balance> done) {
  record(balance_calls, who);
  answer(std::move(done), balance_value);
}

void fake_gateway::get_ledger(const caller& who, ledger_query query, reply<ledger_page> done) {
  record(ledger_calls, std::pair{who, query});
  answer(std::move(done), ledger_value);
}

void fake_gateway::charge(const caller& who, charge_command command,
                          reply<mutation_reply<charge_result>> done) {
  record(charge_calls, std::pair{who, std::move(command)});
  answer(std::move(done), mutation_reply<charge_result>{charge_value, replayed});
}

void fake_gateway::credit(const uuid& user, credit_command command,
                          reply<mutation_reply<credit_result>> done) {
  record(credit_calls, std::pair{user, std::move(command)});
  answer(std::move(done), mutation_reply<credit_result>{credit_value, replayed});
}

void fake_gateway::request_magic_link(std::string email, request_origin origin,
                                      reply<login_challenge> done) {
  record(magic_link_calls, auth_call{std::move(email), {}, std::move(origin)});
  answer(std::move(done), challenge_value);
}

void fake_gateway::verify_magic_link(std::string token, request_origin origin,
                                     reply<session_grant> done) {
  record(verify_magic_link_calls, auth_call{std::move(token), {}, std::move(origin)});
  answer(std::move(done), grant_value);
}

void fake_gateway::request_code(std::string phone, request_origin origin,
                                reply<login_challenge> done) {
  record(code_calls, auth_call{std::move(phone), {}, std::move(origin)});
  answer(std::move(done), challenge_value);
}

void fake_gateway::verify_code(std::string phone, std::string code, request_origin origin,
                               reply<session_grant> done) {
  record(verify_code_calls, auth_call{std::move(phone), std::move(code), std::move(origin)});
  answer(std::move(done), grant_value);
}

void fake_gateway::refresh(std::string refresh_token, request_origin origin,
                           reply<session_grant> done) {
  record(refresh_calls, auth_call{std::move(refresh_token), {}, std::move(origin)});
  answer(std::move(done), grant_value);
}

void fake_gateway::me(const caller& who, reply<me_view> done) {
  record(me_calls, who);
  answer(std::move(done), me_value);
}

void fake_gateway::logout(const caller& who, request_origin origin, reply<bool> done) {
  record(logout_calls, std::pair{who, std::move(origin)});
  answer(std::move(done), logout_value);
}

void fake_gateway::create_tenant(const caller&, std::string, reply<tenant_view> done) {
  ++tenant_calls;
  done(tenant_value);
}

void fake_gateway::get_tenant(const caller&, const uuid&, reply<tenant_view> done) {
  ++tenant_calls;
  done(tenant_value);
}

void fake_gateway::add_member(const caller&, const uuid&, std::string, std::string,
                              reply<tenant_view> done) {
  ++tenant_calls;
  done(tenant_value);
}

void fake_gateway::activate_module(const caller&, const uuid&, std::string, std::string,
                                   reply<tenant_view> done) {
  ++tenant_calls;
  done(tenant_value);
}

void fake_gateway::deactivate_module(const caller&, const uuid&, reply<tenant_view> done) {
  ++tenant_calls;
  done(tenant_value);
}

void fake_gateway::subdomain_status(const caller&, std::string name, reply<subdomain_view> done) {
  ++tenant_calls;
  done(subdomain_view{std::move(name), true});
}

void fake_gateway::deliver_held() {
  std::vector<std::function<void()>> ready;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ready.swap(held_);
  }
  for (auto& deliver : ready) deliver();
}

void fake_gateway::drop_held() {
  std::vector<std::function<void()>> dropped;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    dropped.swap(held_);
  }
  dropped.clear();
}

size_t fake_gateway::held_count() {
  std::lock_guard<std::mutex> lock(mutex_);
  return held_.size();
}

size_t fake_gateway::call_count() {
  std::lock_guard<std::mutex> lock(mutex_);
  return balance_calls.size() + ledger_calls.size() + charge_calls.size() + credit_calls.size() +
         magic_link_calls.size() + verify_magic_link_calls.size() + code_calls.size() +
         verify_code_calls.size() + refresh_calls.size() + me_calls.size() + logout_calls.size();
}

void fake_gateway::deliver_webhook(webhook_delivery delivery, reply<webhook_outcome> done) {
  record(webhook_calls, std::move(delivery));
  answer(std::move(done), webhook_value);
}

void fake_gateway::get_webhook_event(std::string event_id, reply<webhook_event_view> done) {
  record(webhook_event_calls, std::move(event_id));
  answer(std::move(done), webhook_event_value);
}

} // namespace tally::test
