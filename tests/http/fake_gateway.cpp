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

void fake_gateway::get_balance(const uuid& user, reply<balance> done) {
  if (throw_on_call) throw std::runtime_error("fake_gateway: scripted throw");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    balance_calls.push_back(user);
  }
  answer(std::move(done), balance_value);
}

void fake_gateway::get_ledger(const uuid& user, ledger_query query, reply<ledger_page> done) {
  if (throw_on_call) throw std::runtime_error("fake_gateway: scripted throw");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ledger_calls.emplace_back(user, query);
  }
  answer(std::move(done), ledger_value);
}

void fake_gateway::charge(const uuid& user, charge_command command,
                          reply<mutation_reply<charge_result>> done) {
  if (throw_on_call) throw std::runtime_error("fake_gateway: scripted throw");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    charge_calls.emplace_back(user, std::move(command));
  }
  answer(std::move(done), mutation_reply<charge_result>{charge_value, replayed});
}

void fake_gateway::credit(const uuid& user, credit_command command,
                          reply<mutation_reply<credit_result>> done) {
  if (throw_on_call) throw std::runtime_error("fake_gateway: scripted throw");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    credit_calls.emplace_back(user, std::move(command));
  }
  answer(std::move(done), mutation_reply<credit_result>{credit_value, replayed});
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
  return balance_calls.size() + ledger_calls.size() + charge_calls.size() + credit_calls.size();
}

} // namespace tally::test
