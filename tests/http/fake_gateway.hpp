#pragma once
// fake_gateway: a test double of protocols/gateway.hpp. It records every
// call and answers with scripted values or a scripted failure, at once or
// (hold = true) only when the test says so, to exercise deadlines, late
// replies and dropped replies.
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "protocols/gateway.hpp"

namespace tally::test {

/// One recorded auth call: its text arguments and the request's origin.
struct auth_call {
  std::string first;   ///< email, token, phone or refresh token
  std::string second;  ///< the code of verify_code, else empty
  request_origin origin;
};

class fake_gateway final : public gateway {
public:
  // Scripted answers.
  std::optional<failure> fail_with;
  balance balance_value{};
  ledger_page ledger_value{};
  charge_result charge_value{};
  credit_result credit_value{};
  bool replayed = false;
  login_challenge challenge_value{900, {}};
  session_grant grant_value{};
  me_view me_value{};
  bool logout_value = true;
  webhook_outcome webhook_value{};
  webhook_event_view webhook_event_value{};
  /// Keep replies until deliver_held() / drop_held().
  bool hold = false;
  /// Throw from the call itself (a bug on the caller's side of the door).
  bool throw_on_call = false;
  store_health health_state;

  // Recorded calls.
  std::vector<caller> balance_calls;
  std::vector<std::pair<caller, ledger_query>> ledger_calls;
  std::vector<std::pair<caller, charge_command>> charge_calls;
  std::vector<std::pair<uuid, credit_command>> credit_calls;
  std::vector<auth_call> magic_link_calls;
  std::vector<auth_call> verify_magic_link_calls;
  std::vector<auth_call> code_calls;
  std::vector<auth_call> verify_code_calls;
  std::vector<auth_call> refresh_calls;
  std::vector<caller> me_calls;
  std::vector<std::pair<caller, request_origin>> logout_calls;
  std::vector<webhook_delivery> webhook_calls;
  std::vector<std::string> webhook_event_calls;

  void get_balance(const caller& who, reply<balance> done) override;
  void get_ledger(const caller& who, ledger_query query, reply<ledger_page> done) override;
  void charge(const caller& who, charge_command command,
              reply<mutation_reply<charge_result>> done) override;
  void credit(const uuid& user, credit_command command,
              reply<mutation_reply<credit_result>> done) override;
  void request_magic_link(std::string email, request_origin origin,
                          reply<login_challenge> done) override;
  void verify_magic_link(std::string token, request_origin origin,
                         reply<session_grant> done) override;
  void request_code(std::string phone, request_origin origin,
                    reply<login_challenge> done) override;
  void verify_code(std::string phone, std::string code, request_origin origin,
                   reply<session_grant> done) override;
  void refresh(std::string refresh_token, request_origin origin,
               reply<session_grant> done) override;
  void me(const caller& who, reply<me_view> done) override;
  void logout(const caller& who, request_origin origin, reply<bool> done) override;
  // Tenants: answered with a fixed tenant (http routing and validation tests).
  tenant_view tenant_value;
  size_t tenant_calls = 0;
  void create_tenant(const caller& who, std::string name, reply<tenant_view> done) override;
  void get_tenant(const caller& who, const uuid& tenant, reply<tenant_view> done) override;
  void add_member(const caller& who, const uuid& tenant, std::string email, std::string role,
                  reply<tenant_view> done) override;
  void activate_module(const caller& who, const uuid& tenant, std::string module,
                       std::string subdomain, reply<tenant_view> done) override;
  void deactivate_module(const caller& who, const uuid& tenant, reply<tenant_view> done) override;
  void subdomain_status(const caller& who, std::string name, reply<subdomain_view> done) override;
  void deliver_webhook(webhook_delivery delivery, reply<webhook_outcome> done) override;
  void get_webhook_event(std::string event_id, reply<webhook_event_view> done) override;
  const store_health& health() const override { return health_state; }
  // Generations are tested over the real runtime (tests/integration); here
  // they answer internal so a route test that reaches them fails loudly.
  void create_generation(const caller&, generation_command,
                         reply<mutation_reply<generation_created>> done) override {
    done(failure{error_code::internal, "not faked", 0});
  }
  void get_generation(const caller&, uuid, reply<generation_row> done) override {
    done(failure{error_code::internal, "not faked", 0});
  }
  void list_generations(const caller&, generation_query, reply<generation_page> done) override {
    done(failure{error_code::internal, "not faked", 0});
  }
  void cancel_generation(const caller&, uuid, reply<generation_row> done) override {
    done(failure{error_code::internal, "not faked", 0});
  }

  /// Delivers every held reply (in call order).
  void deliver_held();
  /// Destroys every held reply undelivered (their fallbacks fire).
  void drop_held();
  size_t held_count();
  /// Every call of every kind so far.
  size_t call_count();

private:
  template <class T>
  void answer(reply<T> done, T value);

  /// Throws when scripted to, else appends `entry` to `calls` under the lock.
  template <class Entry>
  void record(std::vector<Entry>& calls, Entry entry);

  std::mutex mutex_;
  std::vector<std::function<void()>> held_;
};

} // namespace tally::test
