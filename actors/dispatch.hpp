#pragma once
// Commands as data into CAF: dispatch(registry, key, command, done) hands a
// command value (protocols/commands.hpp) to the registry, which routes it by
// key to the entity that owns it, activating it lazily. Everything that
// starts a command goes through here: the gateway (HTTP), and a decoded
// envelope from elsewhere (tests/actors/dispatch_test.cpp; the cluster's
// forwarding next), so a command needs no code of its own on the way in.
//
// This is the one table from command values to the registry's messages.
// When the registry takes envelopes itself (docs/ARCHITECTURE.md, "Next"),
// the table goes and nothing that calls dispatch changes.
#include "protocols/caf_types.hpp"
#include "protocols/commands.hpp"

namespace tally {

void dispatch(const registry_actor& registry, const uuid& key, balance_request command,
              reply<balance> done);
void dispatch(const registry_actor& registry, const uuid& key, ledger_request command,
              reply<ledger_page> done);
void dispatch(const registry_actor& registry, const uuid& key, charge_request command,
              reply<mutation_reply<charge_result>> done);
void dispatch(const registry_actor& registry, const uuid& key, credit_request command,
              reply<mutation_reply<credit_result>> done);
void dispatch(const registry_actor& registry, const uuid& key, me_request command,
              reply<me_view> done);
void dispatch(const registry_actor& registry, const uuid& key, logout_request command,
              reply<bool> done);
void dispatch(const registry_actor& registry, const uuid& key, refresh_request command,
              reply<session_grant> done);
void dispatch(const registry_actor& registry, const uuid& key, open_session_request command,
              reply<session_grant> done);
void dispatch(const registry_actor& registry, const uuid& key, magic_link_request command,
              reply<login_challenge> done);
void dispatch(const registry_actor& registry, const uuid& key, verify_link_request command,
              reply<session_grant> done);
void dispatch(const registry_actor& registry, const uuid& key, code_request command,
              reply<login_challenge> done);
void dispatch(const registry_actor& registry, const uuid& key, verify_code_request command,
              reply<session_grant> done);

/// Dispatches whichever command an envelope holds; `make_reply` gives the
/// completion for it: `make_reply(tag<Result>)` -> reply<Result>.
template <class Result>
struct reply_tag {};

template <class MakeReply>
void dispatch(const registry_actor& registry, envelope message, MakeReply&& make_reply) {
  std::visit(
    [&](auto& command) {
      using result = typename std::decay_t<decltype(command)>::result;
      dispatch(registry, message.key, std::move(command), make_reply(reply_tag<result>{}));
    },
    message.command);
}

} // namespace tally
