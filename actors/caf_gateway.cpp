#include "actors/caf_gateway.hpp"

#include "caf/send.hpp"

namespace tally {

namespace {

failure shutting_down() {
  return {error_code::shutting_down, "the service is shutting down", 1};
}

} // namespace

void caf_gateway::get_balance(const uuid& user, reply<balance> done) {
  if (closed_.load(std::memory_order_relaxed)) return done(shutting_down());
  caf::anon_send(registry_, balance_atom_v, user, std::move(done));
}

void caf_gateway::get_ledger(const uuid& user, ledger_query query, reply<ledger_page> done) {
  if (closed_.load(std::memory_order_relaxed)) return done(shutting_down());
  caf::anon_send(registry_, ledger_atom_v, user, std::move(query), std::move(done));
}

void caf_gateway::charge(const uuid& user, charge_command command,
                         reply<mutation_reply<charge_result>> done) {
  if (closed_.load(std::memory_order_relaxed)) return done(shutting_down());
  caf::anon_send(registry_, charge_atom_v, user, std::move(command), std::move(done));
}

void caf_gateway::credit(const uuid& user, credit_command command,
                         reply<mutation_reply<credit_result>> done) {
  if (closed_.load(std::memory_order_relaxed)) return done(shutting_down());
  caf::anon_send(registry_, credit_atom_v, user, std::move(command), std::move(done));
}

} // namespace tally
