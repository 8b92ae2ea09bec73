#pragma once
// Commands as data into CAF: dispatch(registry, key, command, done) hands a
// command value (protocols/commands.hpp) and its completion to the registry,
// which routes it by (kind, key) to the entity that owns it, activating it
// lazily. Everything that starts a command goes through here or sends the
// same message: the gateway (HTTP), an entity calling another (identity ->
// user), and a decoded envelope from elsewhere (tests/actors/
// dispatch_test.cpp; the cluster's forwarding next). No code per command.
#include <utility>
#include <variant>

#include "caf/send.hpp"

#include "protocols/caf_types.hpp"
#include "protocols/commands.hpp"

namespace tally {

template <class Command>
void dispatch(const registry_actor& registry, const uuid& key, Command command,
              reply<typename Command::result> done) {
  caf::anon_send(registry, key, to_entity_command(std::move(command)),
                 completion{std::move(done)});
}

/// The completion type a command of result `Result` needs, as a tag for
/// `make_reply` below.
template <class Result>
struct reply_tag {};

/// Dispatches whichever command an envelope holds; `make_reply(tag<Result>)`
/// gives the completion for it.
template <class MakeReply>
void dispatch(const registry_actor& registry, envelope message, MakeReply&& make_reply) {
  std::visit(
    [&](auto& of_kind) {
      std::visit(
        [&](auto& command) {
          using result = typename std::decay_t<decltype(command)>::result;
          completion done{make_reply(reply_tag<result>{})};
          caf::anon_send(registry, message.key, std::move(message.command), std::move(done));
        },
        of_kind);
    },
    message.command);
}

} // namespace tally
