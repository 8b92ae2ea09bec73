#pragma once
// Internal to the user actor: its generations (user_generations.cpp). The
// create itself runs through user.cpp's mutation path (idempotency, the
// write window, the durable ack) with the hooks declared here; everything
// after it — submit, provider answers, cancel, the sweep's time-outs and
// the interrupted leftovers of an earlier incarnation — is here.
//
// Every change that ends a reservation is one write: the generation row,
// the ledger entry (capture or release, reference = generation id) and the
// balance, so the store never holds one without the others.
#include <optional>
#include <vector>

#include "actors/credit_decisions.hpp"
#include "actors/user_sessions.hpp"

namespace tally::user_detail {

/// Decides a create (rate limit, active limit, credits, breaker) and, when
/// accepted, moves the rate limit on and keeps the breaker's admission in
/// st.admitting for add_created_generation.
outcome<accepted_change> decide_generation(user_pointer self, const generation_command& command);

/// The 202 body of an accepted create.
generation_created created_result(user_pointer self, const generation_command& command,
                                  const accepted_change& change, const uuid& id, timestamp_us now);

/// The new generation's row into `records`, and into memory as active;
/// `pending` then submits it once committed.
void add_created_generation(user_pointer self, const generation_command& command, const uuid& id,
                            timestamp_us now, write_batch& records, uncommitted_write& pending);

/// A create's write committed: hand the generation to the provider.
void submit_generation(user_pointer self, const uuid& generation);

/// Activation found these still active in the store: fail them as
/// interrupted and release their prices (before any command is served).
void interrupt_leftovers(user_pointer self, std::vector<generation_row>& leftovers);

/// Retirement: admissions never submitted go back to the breaker; memory
/// forgets the generations (the next activation reloads and ends them).
void drop_generations(user_pointer self);

void get_generation(user_pointer self, const get_generation_request& command, generation_reply done);
void list_generations(user_pointer self, const list_generations_request& command, generation_page_reply done);
void cancel_generation(user_pointer self, const cancel_generation_request& command, generation_reply done);
void answer_generation(user_pointer self, const generation_answer_request& command, logout_reply done);
void expire_generations(user_pointer self, logout_reply done);

/// TALLY_INVARIANT: reserved equals the sum of the active generations' prices.
void check_reservations(const user_state& st);

} // namespace tally::user_detail
