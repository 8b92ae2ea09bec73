// tests/sim/generation_simulation_test.cpp: generations in seeded runs of
// the real registry, user actors, writer and readers on CAF's deterministic
// scheduler, over the simulated store, with a scripted provider whose
// answers (success, failure, none: the time-out) the seed decides. Steps
// interleave creates (fresh and repeated keys), provider answers, cancels
// racing them, the sweep's expiry after virtual time passes, breaker
// refusals, and crashes (a user actor killed: it reloads from the store and
// fails what it finds active as interrupted). After every step the store
// must hold, for every user:
//   - reserved == the sum of the prices of its active generations;
//   - every generation has exactly one reserve of its price, and once ended
//     exactly one capture (completed) or release (failed, cancelled) of it;
//   - the ledger chains exactly to the balance, and available >= 0.
// At the end (answers delivered, time past every timeout_at, one sweep)
// every reservation has ended: nothing active, nothing reserved.
#include <algorithm>
#include <map>
#include <random>
#include <sstream>

#include "tests/actors/actor_fixture.hpp"

#include "actors/registry.hpp"

namespace tally::test {

namespace {

constexpr size_t generation_seeds = 300;
constexpr size_t steps_per_seed = 160;
constexpr auto generation_timeout = std::chrono::seconds(30);

/// The provider the seed drives: jobs wait until a step answers them.
class scripted_provider final : public generation_provider {
public:
  struct job_entry {
    generation_job job;
    provider_callback done;
  };

  provider_admission admit() override {
    if (refusing) return {false, false, 1};
    return {true, false, 0};
  }
  void give_back(const provider_admission&) override { ++given_back; }
  void submit(generation_job job, const provider_admission&, provider_callback done) override {
    outstanding.push_back({std::move(job), std::move(done)});
  }

  /// Answers job `index` (ok or failed) and forgets it.
  void answer(size_t index, bool ok) {
    auto entry = std::move(outstanding[index]);
    outstanding.erase(outstanding.begin() + static_cast<std::ptrdiff_t>(index));
    entry.done(ok ? provider_answer{true, "https://sim/" + to_string(entry.job.id), {}}
                  : provider_answer{false, {}, "sim_failure"},
               std::chrono::microseconds(1));
  }

  bool refusing = false;
  size_t given_back = 0;
  std::vector<job_entry> outstanding;
};

struct generation_sim : actor_fixture {
  explicit generation_sim(uint64_t seed) : rng(seed) {
    context.generations.active_max = 2 + static_cast<int>(rng() % 4);
    context.generations.timeout = generation_timeout;
    context.generations.create_rate = rate_limit{1000, std::chrono::minutes(1)};
    context.provider = &provider;
    spawn_writer();
    std::vector<reader_actor> readers{spawn_reader()};
    registry = spawn_registry(readers);
    size_t count = 1 + rng() % 3;
    for (size_t i = 0; i < count; ++i) {
      uuid id{};
      for (auto& byte : id.data) byte = static_cast<uint8_t>(rng());
      initial[id] = balance{static_cast<int64_t>(20 + rng() % 100), 0};
      db->add_user(id, initial[id]);
      users.push_back(id);
    }
  }

  uuid pick_user() { return users[rng() % users.size()]; }

  void create() {
    auto user = pick_user();
    auto [done, result] = capture<mutation_reply<generation_created>>();
    generation_command command;
    command.model_id = "m";
    command.prompt = "p";
    command.params_json = "{}";
    command.price = static_cast<int64_t>(1 + rng() % 30);
    auto& keys = used_keys[user];
    if (!keys.empty() && rng() % 4 == 0) {
      command.idem = keys[rng() % keys.size()];  // a retry: same key, same body
      command.price = prices[command.idem.key];
    } else {
      command.idem = {"k" + std::to_string(++key_counter), "digest-" + std::to_string(key_counter)};
      keys.push_back(command.idem);
      prices[command.idem.key] = command.price;
    }
    dispatch(registry, user, create_generation_request{session_of(user), std::move(command)}, std::move(done));
    creates.emplace_back(user, result);
  }

  void cancel() {
    std::vector<std::pair<uuid, uuid>> known;
    for (const auto& [user, result] : creates)
      if (result->has_value() && (*result)->ok()) known.emplace_back(user, (*result)->value().result.id);
    if (known.empty()) return;
    auto [user, generation] = known[rng() % known.size()];
    auto [done, result] = capture<generation_row>();
    dispatch(registry, user, cancel_generation_request{session_of(user), generation}, std::move(done));
    cancels.push_back(result);
  }

  void answer_one() {
    if (provider.outstanding.empty()) return;
    provider.answer(rng() % provider.outstanding.size(), rng() % 3 != 0);
  }

  void expire_all() {
    for (const auto& user : users)
      dispatch(registry, user, expire_generations_request{virtual_now()}, reply<bool>{[](outcome<bool>) {}});
  }

  void kill_one() {
    auto* state = dynamic_cast<registry_actor::stateful_pointer<registry_state>>(
      caf::actor_cast<caf::abstract_actor*>(registry));
    const auto& table = std::get<static_cast<size_t>(entity_kind::user)>(state->state.tables);
    std::vector<std::pair<uuid, user_actor>> live;
    for (const auto& [id, entry] : table) live.emplace_back(id, entry.handle);
    if (live.empty()) return;
    std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    caf::anon_send_exit(live[rng() % live.size()].second, caf::exit_reason::kill);
    ++kills;
  }

  void step() {
    auto roll = rng() % 100;
    if (roll < 28) {
      create();
    } else if (roll < 43) {
      answer_one();
    } else if (roll < 53) {
      cancel();
    } else if (roll < 60) {
      advance_time(std::chrono::seconds(1 + rng() % 20));
      expire_all();
    } else if (roll < 64) {
      kill_one();
    } else if (roll < 67) {
      provider.refusing = !provider.refusing;
    } else {
      for (auto n = 1 + rng() % 12; n > 0 && sched.try_run_once(); --n) {
      }
    }
  }

  /// The store's promises, for every user (an empty string: all hold).
  std::string violation() const {
    auto generations = db->generations();
    for (const auto& user : users) {
      std::ostringstream why;
      auto bal = db->committed_balance(user);
      if (!bal) return "user vanished";
      if (bal->available < 0 || bal->reserved < 0) return "negative balance";
      // The ledger chains from the initial balance to the stored one.
      auto running = initial.at(user);
      std::map<std::string, std::vector<ledger_entry>> by_reference;
      for (const auto& entry : db->ledger(user)) {
        switch (entry.type) {
          case ledger_type::reserve: running = {running.available - entry.amount, running.reserved + entry.amount}; break;
          case ledger_type::capture: running.reserved -= entry.amount; break;
          case ledger_type::release: running = {running.available + entry.amount, running.reserved - entry.amount}; break;
          default: return "unexpected ledger type";
        }
        if (entry.available_after != running.available || entry.reserved_after != running.reserved)
          return "ledger chain broken at seq " + std::to_string(entry.seq);
        by_reference[entry.reference].push_back(entry);
      }
      if (!(running == *bal)) return "balance is not the ledger's sum";
      int64_t held = 0;
      size_t owned = 0;
      for (const auto& [id, row] : generations) {
        if (row.user_id != user) continue;
        ++owned;
        if (is_active(row.status)) held += row.price;
        const auto& entries = by_reference[to_string(id)];
        auto count = [&](ledger_type type) {
          return std::count_if(entries.begin(), entries.end(),
                               [&](const ledger_entry& e) { return e.type == type && e.amount == row.price; });
        };
        if (count(ledger_type::reserve) != 1 || entries.size() != (is_active(row.status) ? 1u : 2u))
          return "generation " + to_string(id) + " does not have exactly its reserve (and one end)";
        if (row.status == generation_status::completed && count(ledger_type::capture) != 1)
          return "completed generation not captured exactly once";
        if ((row.status == generation_status::failed || row.status == generation_status::cancelled) &&
            count(ledger_type::release) != 1)
          return "ended generation not released exactly once";
      }
      if (held != bal->reserved) return "reserved != sum of active generations' prices";
      if (by_reference.size() != owned) return "a ledger entry names no generation";
    }
    return {};
  }

  std::mt19937_64 rng;
  scripted_provider provider;
  registry_actor registry;
  std::vector<uuid> users;
  std::map<uuid, balance> initial;
  std::map<uuid, std::vector<idempotency>> used_keys;
  std::map<std::string, int64_t> prices;
  size_t key_counter = 0;
  size_t kills = 0;
  std::vector<std::pair<uuid, slot<mutation_reply<generation_created>>>> creates;
  std::vector<slot<generation_row>> cancels;
};

} // namespace

TEST_CASE("generation simulation: every reservation ends, exactly once, whatever the interleaving") {
  size_t completed = 0, failed = 0, cancelled = 0, interrupted = 0, kills = 0;
  for (uint64_t seed = 1; seed <= generation_seeds; ++seed) {
    INFO("generation seed " << seed);
    generation_sim sim(seed);
    for (size_t step = 0; step < steps_per_seed; ++step) {
      sim.step();
      auto why = sim.violation();
      INFO("step " << step << ": " << why);
      REQUIRE(why.empty());
    }
    // Heal: answer everything, let every time-out pass, sweep, until quiet.
    sim.provider.refusing = false;
    for (int round = 0; round < 5; ++round) {
      sim.run_jobs();
      while (!sim.provider.outstanding.empty()) sim.provider.answer(0, true);
      sim.run_jobs();
      sim.advance(generation_timeout + std::chrono::seconds(1));
      sim.expire_all();
      sim.run_jobs();
    }
    auto why = sim.violation();
    INFO(why);
    REQUIRE(why.empty());
    for (const auto& [id, row] : sim.db->generations()) {
      INFO("generation " << to_string(id) << " " << to_string(row.status));
      CHECK(!is_active(row.status));
      completed += row.status == generation_status::completed;
      failed += row.status == generation_status::failed;
      cancelled += row.status == generation_status::cancelled;
      interrupted += row.error == "interrupted";
    }
    for (const auto& user : sim.users) CHECK(sim.db->committed_balance(user)->reserved == 0);
    for (const auto& [user, result] : sim.creates) CHECK(result->has_value());
    for (const auto& result : sim.cancels) CHECK(result->has_value());
    kills += sim.kills;
  }
  // The runs exercised every way a reservation ends.
  WARN("generations: " << completed << " completed, " << failed << " failed (" << interrupted
                       << " interrupted), " << cancelled << " cancelled; " << kills << " user actors killed");
  CHECK(completed > 0);
  CHECK(failed > 0);
  CHECK(cancelled > 0);
  CHECK(interrupted > 0);
  CHECK(kills > 0);
}

} // namespace tally::test
