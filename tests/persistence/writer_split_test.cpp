// A batch the store refuses for good is committed in parts (writer.cpp,
// commit_apart): only the entities whose writes the store refuses get
// write_failed; every other entity of the batch commits. Real stores
// (SQLite always, Postgres when TALLY_TEST_PG_URL is set); the writer runs
// on CAF's deterministic scheduler.
#include "tests/actors/caf_test_bridge.hpp"

#include <cmath>
#include <deque>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "caf/all.hpp"

#include "persistence/writer.hpp"
#include "protocols/log.hpp"
#include "protocols/metrics.hpp"
#include "protocols/store_health.hpp"
#include "tests/persistence/listener_log.hpp"
#include "tests/persistence/store_test_support.hpp"

using namespace tally;
using namespace tally::test;

namespace {

/// Entities in the batch: enough that the split goes six levels deep.
constexpr int accounts_per_batch = 40;

/// The available balance a write that must not land carries, to tell it apart.
constexpr int64_t refused_available = 999;

struct split_config : caf::actor_system_config {
  split_config() { register_caf_types(*this); }
};

/// Outlives the actor system (a base declared before the CAF fixture).
struct split_world {
  metrics process_metrics;
  store_health health;
};

/// A user in the store, activated by this node, and the listener of its writes.
struct account {
  uuid id{};
  int64_t epoch = 0;
  write_listener listener;
  std::shared_ptr<listener_log> log = std::make_shared<listener_log>();
};

struct split_fixture : split_world, test_coordinator_fixture<split_config> {
  explicit split_fixture(const std::string& url) : db(open_store(url)) {
    set_log_level(log_level::error);
    db->migrate();
    writer = sys.spawn(writer_behavior, store_factory{[url] { return open_store(url); }}, writer_settings{},
                       &health, &process_metrics);
    sched.run();
  }

  ~split_fixture() override {
    caf::anon_send_exit(writer, caf::exit_reason::user_shutdown);
    for (const auto& each : accounts) caf::anon_send_exit(each.listener, caf::exit_reason::user_shutdown);
    sched.run();
  }

  account& new_account() {
    auto user = make_user();
    db->create_user(user);
    account created;
    created.id = user.id;
    created.epoch = db->activate_user(user.id, 0, 0)->owner_epoch;
    created.listener = sys.spawn(fake_listener, created.log);
    accounts.push_back(created);
    return accounts.back();
  }

  /// A grant of 10 as ledger entry `seq` (token `seq`), with its balance
  /// write and idempotency key, as a user actor hands it over.
  entity_write grant(const account& to, int64_t seq, int64_t available_after = 10) {
    entity_write write;
    write.entity = to.id;
    write.epoch = to.epoch;
    write.token = static_cast<uint64_t>(seq);
    write.listener = to.listener;
    balance after{available_after, 0};
    write.records.ledger.push_back(make_ledger(to.id, seq, ledger_type::grant, 10, after));
    write.records.balances.push_back(make_balance(to.id, to.epoch, after, seq));
    write.records.idempotency.push_back(make_idempotency(to.id, "key-" + std::to_string(seq), t0_us));
    return write;
  }

  /// Hands a write to the writer the way a user actor does (backlog first).
  /// Writes sent before the next run_writer() share one batch.
  void send(entity_write write) {
    health.backlog_records += static_cast<int64_t>(write.records.record_count());
    caf::anon_send(writer, write_atom_v, std::move(write));
  }

  void run_writer() { sched.run(); }

  double refusals(const char* kind) { return process_metrics.store_errors.Add({{"kind", kind}}).Value(); }

  std::unique_ptr<store> db;
  writer_actor writer;
  std::deque<account> accounts;  // a deque: references stay valid
};

/// Runs `scenario(url)` on a fresh SQLite file, and on a fresh Postgres
/// schema when TALLY_TEST_PG_URL is set.
template <class Scenario>
void on_every_store(Scenario scenario) {
  {
    INFO("sqlite");
    temp_dir dir;
    scenario("sqlite:" + (dir.path / "tally.db").string());
  }
  auto server = postgres_test_url();
  if (!server) {
    WARN("TALLY_TEST_PG_URL is not set: the Postgres run is skipped");
    return;
  }
  INFO("postgres");
  postgres_schema schema(*server);
  scenario(schema.url);
}

/// Sends one grant per account in one batch; the accounts at `poisoned`
/// already have ledger entry 1 in the store, so theirs repeats a primary
/// key and the store refuses it for good. Then checks that exactly those
/// failed and every other account's write is committed and stored.
void check_only_poisoned_fail(split_fixture& f, const std::set<int>& poisoned) {
  for (int i = 0; i < accounts_per_batch; ++i) {
    auto& each = f.new_account();
    if (poisoned.count(i) > 0) commit_grants(*f.db, each.id, each.epoch, {}, 0, 1);
  }
  for (int i = 0; i < accounts_per_batch; ++i)
    f.send(f.grant(f.accounts[i], 1, poisoned.count(i) > 0 ? refused_available : 10));
  f.run_writer();

  for (int i = 0; i < accounts_per_batch; ++i) {
    INFO("account " << i);
    const auto& each = f.accounts[i];
    auto stored = f.db->read_ledger(each.id, ledger_query{});
    REQUIRE(stored.entries.size() == 1);
    CHECK(stored.entries[0].available_after == 10);  // the refused write never landed
    if (poisoned.count(i) > 0) {
      CHECK(each.log->failed == std::vector<uint64_t>{1});
      CHECK(each.log->committed.empty());
    } else {
      CHECK(each.log->committed == std::vector<uint64_t>{1});
      CHECK(each.log->failed.empty());
    }
  }
  CHECK(f.health.backlog_records.load() == 0);
  // Halving, not one commit per entity: the whole batch, then one refused
  // part per level on the way down to each poisoned account.
  auto levels = std::ceil(std::log2(accounts_per_batch));
  CHECK(f.refusals("permanent") <= static_cast<double>(poisoned.size()) * levels + 1);
}

} // namespace

TEST_CASE("one poisoned write in a batch fails only its requester", "[writer][store]") {
  on_every_store([](const std::string& url) {
    split_fixture f(url);
    check_only_poisoned_fail(f, {17});
  });
}

TEST_CASE("two poisoned writes in a batch fail only their two requesters", "[writer][store]") {
  on_every_store([](const std::string& url) {
    split_fixture f(url);
    check_only_poisoned_fail(f, {0, accounts_per_batch - 1});
  });
}

TEST_CASE("a fenced member of a batch fails alone, and its epoch stays fenced", "[writer][store]") {
  on_every_store([](const std::string& url) {
    split_fixture f(url);
    for (int i = 0; i < accounts_per_batch; ++i) f.new_account();
    auto& lost = f.accounts[5];
    f.db->activate_user(lost.id, 0, 0);  // another node took the user over
    for (auto& each : f.accounts) f.send(f.grant(each, 1, &each == &lost ? refused_available : 10));
    f.run_writer();

    CHECK(lost.log->failed == std::vector<uint64_t>{1});
    CHECK(lost.log->committed.empty());
    CHECK(f.db->read_ledger(lost.id, ledger_query{}).entries.empty());
    CHECK(f.refusals("fenced") >= 2);  // the whole batch, then its parts
    for (const auto& each : f.accounts) {
      if (&each == &lost) continue;
      CHECK(each.log->committed == std::vector<uint64_t>{1});
      CHECK(f.db->read_ledger(each.id, ledger_query{}).entries.size() == 1);
    }

    f.send(f.grant(lost, 2));  // the old epoch is refused before the store
    f.run_writer();
    CHECK(lost.log->failed == std::vector<uint64_t>{1, 2});
    CHECK(f.health.backlog_records.load() == 0);
  });
}
