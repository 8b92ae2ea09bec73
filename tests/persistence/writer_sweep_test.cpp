// The writer's periodic auth sweep (writer_settings::auth_sweep_interval),
// on CAF's deterministic scheduler over a store that only counts the calls:
// virtual time, no sleeps.
#include "tests/actors/caf_test_bridge.hpp"

#include <memory>
#include <vector>

#include "caf/all.hpp"

#include "persistence/writer.hpp"
#include "protocols/log.hpp"
#include "protocols/metrics.hpp"
#include "protocols/store_health.hpp"

using namespace tally;

namespace {

/// What the counting store saw, shared with the test (the writer owns the store).
struct sweep_log {
  std::vector<timestamp_us> auth_sweeps;  ///< `now` of each delete_expired_auth
  size_t idempotency_sweeps = 0;
  std::vector<timestamp_us> webhook_sweeps;  ///< `before` of each delete_webhook_events_before
  bool fail_transient = false;
};

class counting_store final : public store {
public:
  explicit counting_store(std::shared_ptr<sweep_log> log) : log_(std::move(log)) {}
  void migrate() override {}
  void ping() override {
    if (log_->fail_transient) throw store_error(store_fault::transient, "down");
  }
  void create_user(const user_row&) override {}
  std::optional<user_snapshot> activate_user(const uuid&, size_t, timestamp_us) override { return std::nullopt; }
  ledger_page read_ledger(const uuid&, const ledger_query&) override { return {}; }
  std::optional<idempotency_record> find_idempotency(const uuid&, const std::string&, timestamp_us) override {
    return std::nullopt;
  }
  void commit(const write_batch&) override {}
  size_t delete_idempotency_before(timestamp_us) override {
    ++log_->idempotency_sweeps;
    return 0;
  }
  identity_snapshot activate_identity(const uuid&, identity_kind, const std::string&, timestamp_us) override {
    return {};
  }
  std::vector<bool> known_identities(const std::vector<uuid>& ids) override {
    return std::vector<bool>(ids.size(), false);
  }
  std::optional<magic_link_row> find_magic_link(const std::string&) override { return std::nullopt; }
  std::optional<session_row> find_session(const uuid&, const uuid&) override { return std::nullopt; }
  std::optional<refresh_token_row> find_refresh_token(const std::string&) override { return std::nullopt; }
  void create_session(const session_row&, const refresh_token_row&) override {}
  size_t delete_expired_auth(timestamp_us now) override {
    log_->auth_sweeps.push_back(now);
    if (log_->fail_transient) throw store_error(store_fault::transient, "down");
    return 3;
  }
  std::vector<generation_row> find_active_generations(const std::vector<uuid>&) override { return {}; }
  std::optional<generation_row> find_generation(const uuid&, const uuid&) override { return std::nullopt; }
  generation_page read_generations(const uuid&, const generation_query&) override { return {}; }
  std::vector<uuid> users_with_generations_due(timestamp_us, size_t) override { return {}; }
  std::optional<webhook_event_row> find_webhook_event(const uuid&) override { return std::nullopt; }
  std::optional<payment_row> find_payment(const uuid&) override { return std::nullopt; }
  size_t delete_webhook_events_before(timestamp_us before) override {
    log_->webhook_sweeps.push_back(before);
    return 0;
  }

private:
  std::shared_ptr<sweep_log> log_;
};

/// Outlives the actor system (a base declared before the CAF fixture).
struct sweep_world {
  std::shared_ptr<sweep_log> log = std::make_shared<sweep_log>();
  metrics process_metrics;
  store_health health;
};

struct sweep_fixture : sweep_world, test_coordinator_fixture<caf::actor_system_config> {
  sweep_fixture() { set_log_level(log_level::error); }
  ~sweep_fixture() override {
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
    sched.run();
  }

  void start(writer_settings settings) {
    auto shared = log;
    writer = sys.spawn(writer_behavior, store_factory{[shared] { return std::make_unique<counting_store>(shared); }},
                       settings, &health, &process_metrics);
    sched.run();
  }

  /// Moves virtual time on by `ticks` health ticks, one at a time.
  void tick(const writer_settings& settings, int ticks) {
    for (int i = 0; i < ticks; ++i) {
      advance_time(settings.health_check_interval);
      sched.run();
    }
  }

  writer_actor writer;
};

} // namespace

TEST_CASE_METHOD(sweep_fixture, "the writer deletes expired auth rows every auth_sweep_interval") {
  writer_settings settings;
  REQUIRE(settings.auth_sweep_interval == std::chrono::seconds(60));  // the documented default
  settings.health_check_interval = std::chrono::seconds(1);
  settings.idempotency_sweep_interval = std::chrono::hours(1);  // out of the way
  start(settings);

  tick(settings, 59);
  CHECK(log->auth_sweeps.empty());
  tick(settings, 1);
  REQUIRE(log->auth_sweeps.size() == 1);
  // The store is told the wall-clock now, so it can cut at now - 1 day.
  CHECK(std::abs(log->auth_sweeps[0] - now_us()) < int64_t{60'000'000});
  tick(settings, 59);
  CHECK(log->auth_sweeps.size() == 1);
  tick(settings, 1);
  CHECK(log->auth_sweeps.size() == 2);
  CHECK(log->idempotency_sweeps == 0);  // its own interval
}

TEST_CASE_METHOD(sweep_fixture, "a failed auth sweep marks the store unreachable and is tried again later") {
  writer_settings settings;
  settings.health_check_interval = std::chrono::seconds(1);
  settings.auth_sweep_interval = std::chrono::seconds(5);
  settings.idempotency_sweep_interval = std::chrono::hours(1);
  start(settings);

  log->fail_transient = true;
  tick(settings, 5);
  REQUIRE(log->auth_sweeps.size() == 1);
  CHECK_FALSE(health.reachable.load());

  log->fail_transient = false;
  tick(settings, 1);  // the health tick's ping finds it back
  CHECK(health.reachable.load());
  tick(settings, 4);
  CHECK(log->auth_sweeps.size() == 2);
}

TEST_CASE_METHOD(sweep_fixture, "the writer deletes expired webhook records every webhook_sweep_interval") {
  writer_settings settings;
  REQUIRE(settings.webhook_retention == std::chrono::hours(24 * 7));  // API.md: 7 days
  settings.health_check_interval = std::chrono::seconds(1);
  settings.idempotency_sweep_interval = std::chrono::hours(1);  // out of the way
  settings.auth_sweep_interval = std::chrono::hours(1);
  settings.webhook_sweep_interval = std::chrono::seconds(3);
  settings.webhook_retention = std::chrono::seconds(10);
  start(settings);

  tick(settings, 2);
  CHECK(log->webhook_sweeps.empty());
  tick(settings, 1);
  REQUIRE(log->webhook_sweeps.size() == 1);
  // Records first seen before now - retention go.
  CHECK(std::abs(log->webhook_sweeps[0] - (now_us() - int64_t{10'000'000})) < int64_t{5'000'000});
  tick(settings, 3);
  CHECK(log->webhook_sweeps.size() == 2);
}
