#pragma once
// fake_gateway: a test double of protocols/gateway.hpp. It records every
// call and answers with scripted values or a scripted failure, at once or
// (hold = true) only when the test says so, to exercise deadlines, late
// replies and dropped replies.
#include <functional>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "protocols/gateway.hpp"

namespace tally::test {

class fake_gateway final : public gateway {
public:
  // Scripted answers.
  std::optional<failure> fail_with;
  balance balance_value{};
  ledger_page ledger_value{};
  charge_result charge_value{};
  credit_result credit_value{};
  bool replayed = false;
  /// Keep replies until deliver_held() / drop_held().
  bool hold = false;
  /// Throw from the call itself (a bug on the caller's side of the door).
  bool throw_on_call = false;
  store_health health_state;

  // Recorded calls.
  std::vector<uuid> balance_calls;
  std::vector<std::pair<uuid, ledger_query>> ledger_calls;
  std::vector<std::pair<uuid, charge_command>> charge_calls;
  std::vector<std::pair<uuid, credit_command>> credit_calls;

  void get_balance(const uuid& user, reply<balance> done) override;
  void get_ledger(const uuid& user, ledger_query query, reply<ledger_page> done) override;
  void charge(const uuid& user, charge_command command,
              reply<mutation_reply<charge_result>> done) override;
  void credit(const uuid& user, credit_command command,
              reply<mutation_reply<credit_result>> done) override;
  const store_health& health() const override { return health_state; }

  /// Delivers every held reply (in call order).
  void deliver_held();
  /// Destroys every held reply undelivered (their fallbacks fire).
  void drop_held();
  size_t held_count();
  size_t call_count();

private:
  template <class T>
  void answer(reply<T> done, T value);

  std::mutex mutex_;
  std::vector<std::function<void()>> held_;
};

} // namespace tally::test
