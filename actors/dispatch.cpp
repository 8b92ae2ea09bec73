#include "actors/dispatch.hpp"

#include <utility>

#include "caf/send.hpp"

namespace tally {

void dispatch(const registry_actor& registry, const uuid& key, balance_request command,
              reply<balance> done) {
  caf::anon_send(registry, balance_atom_v, caller{key, command.session}, std::move(done));
}

void dispatch(const registry_actor& registry, const uuid& key, ledger_request command,
              reply<ledger_page> done) {
  caf::anon_send(registry, ledger_atom_v, caller{key, command.session}, std::move(command.query),
                 std::move(done));
}

void dispatch(const registry_actor& registry, const uuid& key, charge_request command,
              reply<mutation_reply<charge_result>> done) {
  caf::anon_send(registry, charge_atom_v, caller{key, command.session},
                 std::move(command.command), std::move(done));
}

void dispatch(const registry_actor& registry, const uuid& key, credit_request command,
              reply<mutation_reply<credit_result>> done) {
  caf::anon_send(registry, credit_atom_v, key, std::move(command.command), std::move(done));
}

void dispatch(const registry_actor& registry, const uuid& key, me_request command,
              reply<me_view> done) {
  caf::anon_send(registry, me_atom_v, caller{key, command.session}, std::move(done));
}

void dispatch(const registry_actor& registry, const uuid& key, logout_request command,
              reply<bool> done) {
  caf::anon_send(registry, logout_atom_v, caller{key, command.session}, std::move(command.origin),
                 std::move(done));
}

void dispatch(const registry_actor& registry, const uuid& key, refresh_request command,
              reply<session_grant> done) {
  caf::anon_send(registry, refresh_atom_v, caller{key, command.session}, std::move(command.token),
                 std::move(command.origin), std::move(done));
}

void dispatch(const registry_actor& registry, const uuid& key, open_session_request command,
              reply<session_grant> done) {
  caf::anon_send(registry, open_session_atom_v, key, std::move(command.method),
                 std::move(command.origin), std::move(done));
}

void dispatch(const registry_actor& registry, const uuid& key, magic_link_request command,
              reply<login_challenge> done) {
  caf::anon_send(registry, magic_link_atom_v, key, std::move(command.email),
                 std::move(command.origin), std::move(done));
}

void dispatch(const registry_actor& registry, const uuid& key, verify_link_request command,
              reply<session_grant> done) {
  caf::anon_send(registry, verify_link_atom_v, key, std::move(command.token),
                 std::move(command.origin), std::move(done));
}

void dispatch(const registry_actor& registry, const uuid& key, code_request command,
              reply<login_challenge> done) {
  caf::anon_send(registry, code_atom_v, key, std::move(command.phone), std::move(command.origin),
                 std::move(done));
}

void dispatch(const registry_actor& registry, const uuid& key, verify_code_request command,
              reply<session_grant> done) {
  caf::anon_send(registry, verify_code_atom_v, key, std::move(command.phone),
                 std::move(command.code), std::move(command.origin), std::move(done));
}

} // namespace tally
