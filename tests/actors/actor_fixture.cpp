#include "tests/actors/actor_fixture.hpp"

#include "actors/dispatch.hpp"
#include "protocols/auth_tokens.hpp"
#include "protocols/log.hpp"
#include "protocols/secrets.hpp"

namespace tally::test {

writer_actor::behavior_type fake_writer(writer_actor::pointer self, std::shared_ptr<recording> seen) {
  return {
    [seen](write_atom, entity_write& write) { seen->writes.push_back(std::move(write)); },
    [](flush_atom) {},
    [](retry_atom, uint64_t) {},
    [](health_tick_atom) {},
    [self](flush_and_stop_atom, int64_t) -> caf::result<bool> {
      self->quit();
      return true;
    },
    [](flush_deadline_atom) {},
  };
}

registry_actor::behavior_type fake_registry(registry_actor::pointer, std::shared_ptr<recording> seen) {
  return {
    [seen](const uuid& key, entity_command& command, completion&) {
      if (std::holds_alternative<user_command>(command)
          && std::holds_alternative<open_session_request>(std::get<user_command>(command)))
        seen->sessions_opened.push_back(key);
    },
    [seen](idle_atom, const uuid& id, uint64_t activation, uint64_t handled) {
      seen->idles.emplace_back(id, activation, handled);
    },
    [](user_down_atom, const uuid&, uint64_t) {},
    [seen](synced_atom, const uuid&, uint64_t) { ++seen->synced; },
    [](drain_atom) -> caf::result<bool> { return true; },
    [](stop_atom) -> caf::result<bool> { return true; },
    [](passivate_sweep_atom) {},
    [](local_only_atom, const uuid&, entity_command&, completion&) {},
    [](shard_lost_atom, const std::vector<int32_t>&) { return true; },
    [](shard_drain_atom, const std::vector<int32_t>&) -> caf::result<bool> { return true; },
    [](shard_drain_check_atom) {},
  };
}

actor_fixture::actor_fixture() {
  set_log_level(log_level::error);  // expected warnings would drown the report
  context.clock = [this] { return virtual_now(); };
  context.auth.code_pepper = "test pepper";
  health.backlog_records_max = 1000;
  context.ack = ack_mode::commit;
  context.passivate_after = std::chrono::minutes(1);
  context.pending_replies_max = 64;
  context.idempotency_cached_max = 16;
  context.health = &health;
}

actor_fixture::~actor_fixture() {
  for (auto& registry : registries) caf::anon_send(registry, stop_atom_v);
  run_jobs();
  for (auto& whom : spawned) caf::anon_send_exit(whom, caf::exit_reason::user_shutdown);
  run_jobs();
}

writer_actor actor_fixture::spawn_writer(writer_settings settings) {
  auto writer = sys.spawn(writer_behavior, sim::simulated_store_factory(db), settings, &health,
                          &process_metrics);
  spawned.push_back(caf::actor_cast<caf::actor>(writer));
  context.writer = writer;
  run_jobs();
  return writer;
}

writer_actor actor_fixture::spawn_fake_writer() {
  auto writer = sys.spawn(fake_writer, seen);
  spawned.push_back(caf::actor_cast<caf::actor>(writer));
  context.writer = writer;
  run_jobs();
  return writer;
}

reader_actor actor_fixture::spawn_reader() {
  auto reader = sys.spawn(reader_behavior, sim::simulated_store_factory(db), &health);
  spawned.push_back(caf::actor_cast<caf::actor>(reader));
  run_jobs();
  return reader;
}

registry_actor actor_fixture::spawn_registry(std::vector<reader_actor> readers) {
  registry_gauges gauges{};
  for (size_t kind = 0; kind < entity_kind_count; ++kind)
    gauges[kind] =
      &process_metrics.active_actors.Add({{"kind", std::string(entity_kind_labels[kind])}});
  auto registry = sys.spawn(registry_behavior, std::move(readers),
                            static_cast<const entity_context*>(&context), gauges);
  spawned.push_back(caf::actor_cast<caf::actor>(registry));
  registries.push_back(registry);
  run_jobs();
  return registry;
}

registry_actor actor_fixture::spawn_fake_registry() {
  auto registry = sys.spawn(fake_registry, seen);
  spawned.push_back(caf::actor_cast<caf::actor>(registry));
  run_jobs();
  return registry;
}

user_actor actor_fixture::spawn_user(const uuid& id, registry_actor registry, reader_actor reader) {
  auto user = sys.spawn(user_behavior, id, uint64_t{1}, std::move(registry), std::move(reader),
                        static_cast<const entity_context*>(&context));
  spawned.push_back(caf::actor_cast<caf::actor>(user));
  user_of_actor[user.address()] = id;
  run_jobs();
  return user;
}

identity_actor actor_fixture::spawn_identity(const uuid& id, registry_actor registry,
                                             reader_actor reader) {
  auto identity = sys.spawn(identity_behavior, id, uint64_t{1}, std::move(registry),
                            std::move(reader), static_cast<const entity_context*>(&context));
  spawned.push_back(caf::actor_cast<caf::actor>(identity));
  run_jobs();
  return identity;
}

std::vector<ip_limiter_actor> actor_fixture::spawn_ip_limiters(size_t shards, rate_limit limit) {
  std::vector<ip_limiter_actor> limiters;
  for (size_t i = 0; i < shards; ++i) {
    auto limiter =
      sys.spawn(ip_limiter_behavior, limit, context.auth.ip_limiter_entries_max, context.clock);
    spawned.push_back(caf::actor_cast<caf::actor>(limiter));
    limiters.push_back(limiter);
  }
  run_jobs();
  return limiters;
}

login_gate_actor actor_fixture::spawn_login_gate(registry_actor registry,
                                                 std::vector<reader_actor> readers,
                                                 anonymous_limiters limiters) {
  auto gate = sys.spawn(login_gate_behavior, std::move(registry), std::move(readers),
                        std::move(limiters), static_cast<const entity_context*>(&context));
  spawned.push_back(caf::actor_cast<caf::actor>(gate));
  run_jobs();
  return gate;
}

timestamp_us actor_fixture::virtual_now() const {
  auto since_start = sched.clock().now().time_since_epoch();
  return virtual_epoch_us + std::chrono::duration_cast<std::chrono::microseconds>(since_start).count();
}

uuid actor_fixture::session_of(const uuid& user) {
  auto found = sessions.find(user);
  if (found != sessions.end()) return found->second;
  auto id = random_uuid();
  if (db->committed_balance(user)) {
    session_row row;
    row.id = id;
    row.user_id = user;
    auto token = make_refresh_token(user, id);
    row.refresh_hash = sha256_hex(token);
    row.created_at = virtual_now();
    row.expires_at = row.created_at + micros(std::chrono::hours(24 * 365));
    db->create_session(row, refresh_token_row{row.refresh_hash, id, user, row.created_at});
  }
  sessions[user] = id;
  return id;
}

uuid actor_fixture::session_of(const user_actor& user) {
  return session_of(user_of_actor.at(user.address()));
}

uuid actor_fixture::new_user(balance initial) {
  auto id = random_uuid();
  db->add_user(id, initial);
  return id;
}

std::string actor_fixture::key_or_fresh(std::string key) {
  return key.empty() ? "key-" + std::to_string(++next_key) : key;
}

charge_slot actor_fixture::charge(const user_actor& user, int64_t amount, std::string key,
                                  std::string digest) {
  auto [done, result] = capture<mutation_reply<charge_result>>();
  charge_command cmd{amount, "test charge", {key_or_fresh(std::move(key)), std::move(digest)}};
  caf::anon_send(user, to_entity_command(charge_request{session_of(user), std::move(cmd)}),
                 completion{std::move(done)});
  return result;
}

charge_slot actor_fixture::charge(const registry_actor& registry, const uuid& user, int64_t amount,
                                  std::string key, std::string digest) {
  auto [done, result] = capture<mutation_reply<charge_result>>();
  charge_command cmd{amount, "test charge", {key_or_fresh(std::move(key)), std::move(digest)}};
  dispatch(registry, user, charge_request{session_of(user), std::move(cmd)}, std::move(done));
  return result;
}

credit_slot actor_fixture::credit(const user_actor& user, int64_t amount, std::string key,
                                  std::string digest) {
  auto [done, result] = capture<mutation_reply<credit_result>>();
  credit_command cmd{amount, "test grant", {key_or_fresh(std::move(key)), std::move(digest)}};
  caf::anon_send(user, to_entity_command(credit_request{std::move(cmd)}), completion{std::move(done)});
  return result;
}

credit_slot actor_fixture::credit(const registry_actor& registry, const uuid& user, int64_t amount,
                                  std::string key, std::string digest) {
  auto [done, result] = capture<mutation_reply<credit_result>>();
  credit_command cmd{amount, "test grant", {key_or_fresh(std::move(key)), std::move(digest)}};
  dispatch(registry, user, credit_request{std::move(cmd)}, std::move(done));
  return result;
}

balance_slot actor_fixture::get_balance(const user_actor& user) {
  auto [done, result] = capture<balance>();
  caf::anon_send(user, to_entity_command(balance_request{session_of(user)}), completion{std::move(done)});
  return result;
}

balance_slot actor_fixture::get_balance(const registry_actor& registry, const uuid& user) {
  return get_balance(registry, caller_of(user));
}

balance_slot actor_fixture::get_balance(const registry_actor& registry, const caller& who) {
  auto [done, result] = capture<balance>();
  dispatch(registry, who.user, balance_request{who.session}, std::move(done));
  return result;
}

charge_slot actor_fixture::charge(const registry_actor& registry, const caller& who, int64_t amount,
                                  std::string key) {
  auto [done, result] = capture<mutation_reply<charge_result>>();
  charge_command cmd{amount, "test charge", {key_or_fresh(std::move(key)), "digest"}};
  dispatch(registry, who.user, charge_request{who.session, std::move(cmd)}, std::move(done));
  return result;
}

ledger_slot actor_fixture::get_ledger(const registry_actor& registry, const uuid& user,
                                      ledger_query query) {
  auto [done, result] = capture<ledger_page>();
  dispatch(registry, user, ledger_request{session_of(user), std::move(query)}, std::move(done));
  return result;
}

challenge_slot actor_fixture::request_link(const registry_actor& registry, const std::string& email,
                                           request_origin origin) {
  auto [done, result] = capture<login_challenge>();
  dispatch(registry, identity_id(identity_kind::email, email),
           magic_link_request{email, std::move(origin)}, std::move(done));
  return result;
}

grant_slot actor_fixture::verify_link(const registry_actor& registry, const std::string& token,
                                      request_origin origin) {
  auto [done, result] = capture<session_grant>();
  auto identity = magic_token_identity(token);
  REQUIRE(identity);
  dispatch(registry, *identity, verify_link_request{token, std::move(origin)}, std::move(done));
  return result;
}

challenge_slot actor_fixture::request_code(const registry_actor& registry, const std::string& phone,
                                           request_origin origin) {
  auto [done, result] = capture<login_challenge>();
  dispatch(registry, identity_id(identity_kind::phone, phone),
           code_request{phone, std::move(origin)}, std::move(done));
  return result;
}

grant_slot actor_fixture::verify_code(const registry_actor& registry, const std::string& phone,
                                      const std::string& code, request_origin origin) {
  auto [done, result] = capture<session_grant>();
  dispatch(registry, identity_id(identity_kind::phone, phone),
           verify_code_request{phone, code, std::move(origin)}, std::move(done));
  return result;
}

grant_slot actor_fixture::refresh(const registry_actor& registry, const std::string& token,
                                  request_origin origin) {
  auto [done, result] = capture<session_grant>();
  auto route = refresh_token_route(token);
  REQUIRE(route);
  dispatch(registry, route->user, refresh_request{route->session, token, std::move(origin)},
           std::move(done));
  return result;
}

me_slot actor_fixture::me(const registry_actor& registry, const caller& who) {
  auto [done, result] = capture<me_view>();
  dispatch(registry, who.user, me_request{who.session}, std::move(done));
  return result;
}

logout_slot actor_fixture::logout(const registry_actor& registry, const caller& who,
                                  request_origin origin) {
  auto [done, result] = capture<bool>();
  dispatch(registry, who.user, logout_request{who.session, std::move(origin)}, std::move(done));
  return result;
}

} // namespace tally::test
