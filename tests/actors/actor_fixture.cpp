#include "tests/actors/actor_fixture.hpp"

#include "protocols/log.hpp"

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
    [](balance_atom, const uuid&, balance_reply&) {},
    [](ledger_atom, const uuid&, ledger_query&, ledger_reply&) {},
    [](charge_atom, const uuid&, charge_command&, charge_reply&) {},
    [](credit_atom, const uuid&, credit_command&, credit_reply&) {},
    [seen](idle_atom, const uuid& id, uint64_t activation, uint64_t handled) {
      seen->idles.emplace_back(id, activation, handled);
    },
    [](user_down_atom, const uuid&, uint64_t) {},
    [seen](synced_atom, const uuid&, uint64_t) { ++seen->synced; },
    [](drain_atom) -> caf::result<bool> { return true; },
    [](stop_atom) -> caf::result<bool> { return true; },
    [](passivate_sweep_atom) {},
  };
}

actor_fixture::actor_fixture() {
  set_log_level(log_level::error);  // expected warnings would drown the report
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
  auto& gauge = process_metrics.active_actors.Add({{"kind", "user"}});
  auto registry = sys.spawn(registry_behavior, std::move(readers), &context, &gauge);
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
                        static_cast<const user_context*>(&context));
  spawned.push_back(caf::actor_cast<caf::actor>(user));
  run_jobs();
  return user;
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
  caf::anon_send(user, charge_atom_v, std::move(cmd), std::move(done));
  return result;
}

charge_slot actor_fixture::charge(const registry_actor& registry, const uuid& user, int64_t amount,
                                  std::string key, std::string digest) {
  auto [done, result] = capture<mutation_reply<charge_result>>();
  charge_command cmd{amount, "test charge", {key_or_fresh(std::move(key)), std::move(digest)}};
  caf::anon_send(registry, charge_atom_v, user, std::move(cmd), std::move(done));
  return result;
}

credit_slot actor_fixture::credit(const user_actor& user, int64_t amount, std::string key,
                                  std::string digest) {
  auto [done, result] = capture<mutation_reply<credit_result>>();
  credit_command cmd{amount, "test grant", {key_or_fresh(std::move(key)), std::move(digest)}};
  caf::anon_send(user, credit_atom_v, std::move(cmd), std::move(done));
  return result;
}

credit_slot actor_fixture::credit(const registry_actor& registry, const uuid& user, int64_t amount,
                                  std::string key, std::string digest) {
  auto [done, result] = capture<mutation_reply<credit_result>>();
  credit_command cmd{amount, "test grant", {key_or_fresh(std::move(key)), std::move(digest)}};
  caf::anon_send(registry, credit_atom_v, user, std::move(cmd), std::move(done));
  return result;
}

balance_slot actor_fixture::get_balance(const user_actor& user) {
  auto [done, result] = capture<balance>();
  caf::anon_send(user, balance_atom_v, std::move(done));
  return result;
}

balance_slot actor_fixture::get_balance(const registry_actor& registry, const uuid& user) {
  auto [done, result] = capture<balance>();
  caf::anon_send(registry, balance_atom_v, user, std::move(done));
  return result;
}

ledger_slot actor_fixture::get_ledger(const registry_actor& registry, const uuid& user,
                                      ledger_query query) {
  auto [done, result] = capture<ledger_page>();
  caf::anon_send(registry, ledger_atom_v, user, std::move(query), std::move(done));
  return result;
}

} // namespace tally::test
