#pragma once
// How an endpoint calls the gateway: the reply renders through `on_reply`
// on whichever thread delivers it, guarded so an exception becomes 500; a
// reply that never arrives (dropped message, dead actor) becomes 503.
// Shared by every *_routes.cpp.
#include <exception>
#include <memory>
#include <utility>

#include "http/request_context.hpp"
#include "protocols/outcome.hpp"
#include "protocols/reply.hpp"

namespace tally {

/// What a reply that never arrives becomes: the outcome is unknown, so the
/// client is told to retry (with its key, where the endpoint takes one).
inline failure dropped_reply() {
  return {error_code::store_unavailable, "The request was not completed; retry it", 0};
}

/// Calls the gateway with a reply that renders through `on_reply`. `done`
/// outlives an exception thrown by the call itself, so that exception's 500
/// is the answer, not the 503 the undelivered reply would give.
template <class T, class Call, class OnReply>
void ask_gateway(const std::shared_ptr<request_context>& context, Call&& call,
                 OnReply&& on_reply) {
  reply<T> done(
    [context, on_reply = std::forward<OnReply>(on_reply)](outcome<T> result) {
      context->guarded([&] { on_reply(std::move(result)); });
    },
    dropped_reply());
  try {
    call(done);
  } catch (const std::exception& e) {
    context->answer_exception(e.what());
  } catch (...) {
    context->answer_exception("unknown exception");
  }
}

/// Endpoints of the token's caller (/v1/me/*, /v1/auth/me): a token whose
/// user does not exist is no good (401 UNAUTHENTICATED); session_revoked
/// keeps its own code, as API.md names it for logged-out access tokens.
inline void answer_caller_failure(request_context& ctx, const failure& why) {
  if (why.code == error_code::user_not_found) {
    ctx.answer_problem(problem_code::unauthenticated, "The token's user does not exist");
    return;
  }
  ctx.answer_failure(why);
}

} // namespace tally
