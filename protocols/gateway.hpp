#pragma once
// The one narrow door from http/ to the actors. http/ holds a gateway& and
// never sees CAF; actors/caf_gateway.cpp implements it by sending messages
// (never blocking the calling Asio thread). Each reply is delivered exactly
// once on a CAF worker thread; the caller posts it back to its own executor.
#include "protocols/credits.hpp"
#include "protocols/reply.hpp"
#include "protocols/store_health.hpp"
#include "protocols/uuid.hpp"

namespace tally {

class gateway {
public:
  virtual ~gateway() = default;

  /// Committed balance of a user (user_not_found if the user does not exist).
  virtual void get_balance(const uuid& user, reply<balance> done) = 0;

  /// A page of the user's committed ledger, newest first.
  virtual void get_ledger(const uuid& user, ledger_query query, reply<ledger_page> done) = 0;

  /// Immediate debit; replies after the commit (durable ack) or, with
  /// ack=memory, after the in-memory apply.
  virtual void charge(const uuid& user, charge_command command,
                      reply<mutation_reply<charge_result>> done) = 0;

  /// Admin grant or debit.
  virtual void credit(const uuid& user, credit_command command,
                      reply<mutation_reply<credit_result>> done) = 0;

  /// Live view of the write-behind pipeline, for /readyz.
  virtual const store_health& health() const = 0;
};

} // namespace tally
