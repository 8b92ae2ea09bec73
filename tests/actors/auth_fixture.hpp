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
  void start() {
    writer = spawn_writer();
    spawn_ip_limiters(2);
    registry = spawn_registry({spawn_reader(), spawn_reader()});
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
};


} // namespace tally::test
