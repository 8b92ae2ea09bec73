#pragma once
// Shared set-up for login and session tests: the whole actor side (registry,
// identities, users, per-IP limiters, real writer and readers) over the
// simulated store, in dev mode so challenges carry their token or code.
#include <string>

#include "tests/actors/actor_fixture.hpp"

namespace tally::test {

inline const std::string email = "ada@example.com";
inline const std::string phone = "+4915112345678";

struct auth_fixture : actor_fixture {
  auth_fixture() {
    context.auth.dev = true;  // challenges carry the token / code
    context.pending_replies_max = 1024;
  }

  /// Spawns everything; tests change context.auth first if they need to.
  /// Every route of the gate has a per-IP limit of its setting.
  void start() {
    writer = spawn_writer();
    std::vector<reader_actor> readers{spawn_reader(), spawn_reader()};
    registry = spawn_registry(readers);
    const auto& auth = context.auth;
    limiters[static_cast<size_t>(anonymous_route::magic_link)] =
      spawn_ip_limiters(2, auth.magic_link_per_ip);
    limiters[static_cast<size_t>(anonymous_route::magic_link_verify)] =
      spawn_ip_limiters(2, auth.magic_link_verify_per_ip);
    limiters[static_cast<size_t>(anonymous_route::code)] = spawn_ip_limiters(2, auth.code_per_ip);
    limiters[static_cast<size_t>(anonymous_route::code_verify)] =
      spawn_ip_limiters(2, auth.code_verify_per_ip);
    limiters[static_cast<size_t>(anonymous_route::refresh)] =
      spawn_ip_limiters(2, auth.refresh_per_ip);
    gate = spawn_login_gate(registry, readers, limiters);
    // The gate takes the registry's command message: the command helpers,
    // written for a registry, drive it through this view of the same actor.
    front_door = caf::actor_cast<registry_actor>(gate);
  }

  std::string new_link(const std::string& to = email, request_origin origin = {"req", "10.0.0.1"}) {
    auto challenge = request_link(registry, to, origin);
    run_jobs();
    return ok_value(challenge).debug_secret;
  }

  std::string new_code(const std::string& to = phone) {
    auto challenge = request_code(registry, to);
    run_jobs();
    return ok_value(challenge).debug_secret;
  }

  session_grant login_with(const std::string& token) {
    auto granted = verify_link(registry, token);
    run_jobs();
    return ok_value(granted);
  }

  /// A code that is not `code`.
  static std::string wrong_than(const std::string& code) { return code == "000000" ? "111111" : "000000"; }

  /// Runs every actor except the writer, so writes pile up uncommitted.
  void run_all_but_writer() {
    auto* writer_job = caf::actor_cast<caf::abstract_actor*>(writer);
    sched.run_jobs_filtered([&](caf::resumable* job) {
      return dynamic_cast<caf::abstract_actor*>(job) != writer_job;
    });
  }

  double active_identities() {
    return process_metrics.active_actors.Add({{"kind", "identity"}}).Value();
  }

  size_t audits(const std::string& event) {
    size_t count = 0;
    for (const auto& row : db->audit()) count += row.event == event;
    return count;
  }

  writer_actor writer;
  registry_actor registry;
  anonymous_limiters limiters;
  login_gate_actor gate;
  /// The gate, as the helpers' registry argument.
  registry_actor front_door;
};


} // namespace tally::test
