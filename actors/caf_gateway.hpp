#pragma once
// gateway (protocols/gateway.hpp) over CAF: each call builds the command as
// a value (protocols/commands.hpp) and dispatches it to the registry by its
// entity's key (actors/dispatch.hpp) with the reply<T> completion beside it;
// nothing blocks, and the reply is delivered exactly once on a CAF worker
// thread. The completion is the only part local to this process.
//
// Tokens carry their owner's key (protocols/auth_tokens.hpp), so the gateway
// routes every auth call without a store read; a token that is not ours by
// shape is refused here, without waking an actor. Anonymous auth commands go
// through the login gate first (per-IP limits, unknown identities).
#include <atomic>

#include "protocols/caf_types.hpp"
#include "protocols/gateway.hpp"

namespace prometheus {
class Counter;
}

namespace tally {

class metrics;

class caf_gateway final : public gateway {
public:
  /// `process_metrics` (may be null in tests) counts rate-limit rejections.
  caf_gateway(registry_actor registry, const store_health& health,
              metrics* process_metrics = nullptr);

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
  void request_code(std::string phone, request_origin origin, reply<login_challenge> done) override;
  void verify_code(std::string phone, std::string code, request_origin origin,
                   reply<session_grant> done) override;
  void refresh(std::string refresh_token, request_origin origin,
               reply<session_grant> done) override;
  void me(const caller& who, reply<me_view> done) override;
  void logout(const caller& who, request_origin origin, reply<bool> done) override;
  void create_generation(const caller& who, generation_command command,
                         reply<mutation_reply<generation_created>> done) override;
  void get_generation(const caller& who, uuid generation, reply<generation_row> done) override;
  void list_generations(const caller& who, generation_query query, reply<generation_page> done) override;
  void cancel_generation(const caller& who, uuid generation, reply<generation_row> done) override;

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

  const store_health& health() const override { return health_; }

  /// Sends every anonymous auth command (login requests and verifies,
  /// refreshes) through `gate` (login_gate.hpp) instead of straight to the
  /// registry. Call before the first request.
  void set_login_gate(login_gate_actor gate) { gate_ = std::move(gate); }

  /// From now on every call is answered shutting_down at once.
  void close() { closed_.store(true); }

private:
  bool closed() const { return closed_.load(std::memory_order_relaxed); }

  /// Sends an anonymous command to the gate, or to the registry without one.
  template <class Command>
  void dispatch_anonymous(const uuid& key, Command command, reply<typename Command::result> done);

  registry_actor registry_;
  login_gate_actor gate_;
  const store_health& health_;
  /// tally_rate_limit_rejections_total{route}, per auth route (null: not counted).
  prometheus::Counter* rejected_magic_link_ = nullptr;
  prometheus::Counter* rejected_code_ = nullptr;
  prometheus::Counter* rejected_code_verify_ = nullptr;
  prometheus::Counter* rejected_refresh_ = nullptr;
  prometheus::Counter* rejected_magic_link_verify_ = nullptr;
  prometheus::Counter* rejected_generation_ = nullptr;
  std::atomic<bool> closed_{false};
};

} // namespace tally
