#include "actors/runtime.hpp"

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <vector>

#include "caf/all.hpp"

#include "actors/caf_gateway.hpp"
#include "actors/audit_budget.hpp"
#include "actors/dispatch.hpp"
#include "actors/generation_sweeper.hpp"
#include "actors/provider_guard.hpp"
#include "actors/ip_limiter.hpp"
#include "actors/login_gate.hpp"
#include "actors/registry.hpp"
#include "actors/registry_arrivals.hpp"
#include "actors/user.hpp"
#include "persistence/reader.hpp"
#include "persistence/writer.hpp"
#include "protocols/generation_metrics.hpp"
#include "protocols/log.hpp"
#include "protocols/metrics.hpp"
#include "protocols/store_health.hpp"

namespace tally {

namespace {

/// Bound on the stop request after the flush: users only need to quit.
constexpr std::chrono::seconds registry_stop_timeout{5};
/// Grace on top of the writer's own flush deadline for its answer to arrive.
constexpr std::chrono::seconds writer_answer_grace{2};
/// Start-up recovery asks for every active generation due before this
/// (9999-12-31T23:59:59Z): within every store's timestamp range, unlike
/// INT64_MAX microseconds, which Postgres refuses as out of range.
constexpr timestamp_us recover_due_before_us = 253'402'300'799'000'000;
/// shutdown() from the destructor, when main did not call it.
constexpr std::chrono::milliseconds implicit_flush_max{5'000};

std::chrono::milliseconds remaining(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
    deadline - std::chrono::steady_clock::now());
  return std::max(left, std::chrono::milliseconds{1});
}

/// `shards` limiter actors of one anonymous route, each holding `limit` per
/// IP. Scheduled, not detached: a limiter never blocks, it only counts.
std::vector<ip_limiter_actor> spawn_limiters(caf::actor_system& system, const auth_config& auth,
                                             rate_limit limit) {
  std::vector<ip_limiter_actor> shards;
  for (size_t i = 0; i < std::max<size_t>(auth.ip_limiter_shards, 1); ++i)
    shards.push_back(
      system.spawn(ip_limiter_behavior, limit, auth.ip_limiter_entries_max, wall_clock{now_us}));
  return shards;
}

anonymous_limiters spawn_anonymous_limiters(caf::actor_system& system, const auth_config& auth) {
  anonymous_limiters limiters;
  auto set = [&](anonymous_route route, rate_limit limit) {
    limiters[static_cast<size_t>(route)] = spawn_limiters(system, auth, limit);
  };
  set(anonymous_route::magic_link, auth.magic_link_per_ip);
  set(anonymous_route::magic_link_verify, auth.magic_link_verify_per_ip);
  set(anonymous_route::code, auth.code_per_ip);
  set(anonymous_route::code_verify, auth.code_verify_per_ip);
  set(anonymous_route::refresh, auth.refresh_per_ip);
  return limiters;
}

} // namespace

struct runtime::impl {
  impl(caf::actor_system& sys, runtime_config cfg, metrics& m)
    : system(sys), config(cfg), process_metrics(m), login_failure_audits(cfg.auth.audit_login_failures) {}

  caf::actor_system& system;
  runtime_config config;
  metrics& process_metrics;
  store_health health;
  entity_context context;
  writer_actor writer;
  audit_budget login_failure_audits;
  anonymous_limiters limiters;
  std::vector<reader_actor> readers;
  registry_actor registry;
  login_gate_actor login_gate;
  std::unique_ptr<caf_gateway> gate;
  std::unique_ptr<registry_arrivals> arrivals;
  store_factory make_store;
  generation_metrics generation_stats{process_metrics};
  std::unique_ptr<provider_guard> provider;
  generation_sweeper_actor sweeper;
  bool stopped = false;
  bool flushed = false;
};

runtime::runtime(caf::actor_system& system, runtime_config config, store_factory make_store,
                 metrics& process_metrics)
  : impl_(std::make_unique<impl>(system, config, process_metrics)) {
  auto& self = *impl_;
  self.make_store = make_store;
  self.health.backlog_records_max = config.backlog_records_max;

  writer_settings writing;
  writing.batch_records_max = config.write_batch_records_max;
  writing.idempotency_retention = config.idempotency_retention;
  writing.webhook_retention = config.webhook.retention;
  writing.webhook_sweep_interval = config.webhook.sweep_interval;
  self.writer = spawn_writer(system, make_store, writing, self.health, process_metrics);
  for (size_t i = 0; i < std::max<size_t>(config.reader_count, 1); ++i)
    self.readers.push_back(spawn_reader(system, make_store, self.health));

  self.context.ack = config.ack;
  self.context.passivate_after = config.passivate_after;
  self.context.pending_replies_max = config.user_pending_replies_max;
  self.context.idempotency_cached_max = config.idempotency_cached_max;
  self.context.idempotency_retention = config.idempotency_retention;
  self.context.writer = self.writer;
  self.context.health = &self.health;
  self.context.auth = config.auth;
  self.context.tenants = config.tenants;
  self.context.webhook = config.webhook;
  self.context.clock = now_us;
  self.context.login_failure_audits = &self.login_failure_audits;
  self.limiters = spawn_anonymous_limiters(system, config.auth);
  self.context.generations = config.generations;
  self.context.generation_stats = &self.generation_stats;
  self.context.shards = config.shards;
  self.context.remote = config.remote;
  if (config.provider) {
    self.provider = std::make_unique<provider_guard>(config.provider, config.provider_settings,
                                                     &self.generation_stats);
    self.context.provider = self.provider.get();
  }

  registry_gauges gauges{};
  for (size_t kind = 0; kind < entity_kind_count; ++kind)
    gauges[kind] =
      &process_metrics.active_actors.Add({{"kind", std::string(entity_kind_labels[kind])}});
  self.registry = system.spawn(registry_behavior, self.readers, &self.context, gauges);
  self.login_gate = system.spawn(login_gate_behavior, self.registry, self.readers, self.limiters,
                                 &self.context);
  self.gate = std::make_unique<caf_gateway>(self.registry, self.health, &process_metrics);
  self.gate->set_login_gate(self.login_gate);
  self.arrivals = std::make_unique<registry_arrivals>(self.registry);
  self.sweeper = spawn_generation_sweeper(system, make_store, self.registry, config.generation_sweep_interval);
}

runtime::~runtime() {
  if (!impl_->stopped) shutdown(implicit_flush_max);
}

gateway& runtime::gate() {
  return *impl_->gate;
}

const registry_actor& runtime::registry() const {
  return impl_->registry;
}

arriving_commands& runtime::arrivals() {
  return *impl_->arrivals;
}

bool runtime::recover_generations(std::chrono::milliseconds max) {
  auto& self = *impl_;
  std::vector<uuid> users;
  try {
    users = self.make_store()->users_with_generations_due(recover_due_before_us,
                                                          std::numeric_limits<int64_t>::max());
  } catch (const store_error& e) {
    log_event(log_level::error, "generation recovery: store unavailable", {{"error", std::string_view(e.what())}});
    return false;
  }
  if (users.empty()) return true;
  struct tally_of_answers {
    std::mutex mutex;
    std::condition_variable changed;
    size_t waiting = 0;
    size_t failed = 0;
  };
  auto answers = std::make_shared<tally_of_answers>();
  answers->waiting = users.size();
  auto now = now_us();
  for (const auto& user : users) {
    dispatch(self.registry, user, expire_generations_request{now}, reply<bool>{[answers](outcome<bool> result) {
               std::lock_guard<std::mutex> lock(answers->mutex);
               if (!result.ok()) ++answers->failed;
               --answers->waiting;
               answers->changed.notify_all();
             }});
  }
  std::unique_lock<std::mutex> lock(answers->mutex);
  bool all = answers->changed.wait_for(lock, max, [&] { return answers->waiting == 0; });
  log_event(all && answers->failed == 0 ? log_level::info : log_level::error, "generation recovery",
            {{"users", static_cast<int64_t>(users.size())},
             {"failed", static_cast<int64_t>(answers->failed)},
             {"unanswered", static_cast<int64_t>(answers->waiting)}});
  return all && answers->failed == 0;
}

bool runtime::shutdown(std::chrono::milliseconds flush_max) {
  auto& self = *impl_;
  if (self.stopped) return self.flushed;
  self.stopped = true;
  auto deadline = std::chrono::steady_clock::now() + flush_max;
  self.gate->close();
  caf::scoped_actor caller{self.system};

  // 1. Every user handles what it was sent, so its records are with the writer.
  bool drained = false;
  caller->request(self.registry, remaining(deadline), drain_atom_v)
    .receive([&](bool all) { drained = all; },
             [&](caf::error& err) {
               log_event(log_level::error, "drain failed",
                         {{"error", std::string_view(self.system.render(err))}});
             });

  // 2. The writer commits everything; the commits release waiting replies.
  bool committed = false;
  auto flush_ms = remaining(deadline);
  caller->request(self.writer, flush_ms + writer_answer_grace, flush_and_stop_atom_v,
                  static_cast<int64_t>(flush_ms.count()))
    .receive([&](bool all) { committed = all; },
             [&](caf::error& err) {
               log_event(log_level::error, "writer flush failed",
                         {{"error", std::string_view(self.system.render(err))}});
             });

  // 3. Users and registry quit (after the commits: the writer told the
  //    users before it answered us, and mailboxes keep that order).
  caller->request(self.registry, registry_stop_timeout, stop_atom_v)
    .receive([](bool) {}, [](caf::error&) {});

  // 4. The sweeper, limiters, readers, and the writer in case its deadline passed mid-commit.
  caller->send_exit(self.login_gate, caf::exit_reason::user_shutdown);
  for (auto& shards : self.limiters)
    for (auto& limiter : shards) caller->send_exit(limiter, caf::exit_reason::user_shutdown);
  caller->send_exit(self.sweeper, caf::exit_reason::user_shutdown);
  for (auto& reader : self.readers) caller->send_exit(reader, caf::exit_reason::user_shutdown);
  caller->send_exit(self.writer, caf::exit_reason::user_shutdown);

  self.flushed = drained && committed;
  return self.flushed;
}

} // namespace tally
