#include "tests/sim/webhook_simulation.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <vector>

#include "actors/dispatch.hpp"
#include "actors/registry.hpp"
#include "protocols/log.hpp"
#include "tests/actors/actor_fixture.hpp"

namespace tally::sim {

namespace {

using test::actor_fixture;

constexpr size_t objects_max = 4;
constexpr uint64_t credits_max = 1000;
/// Steps of the settling phase, each a redelivery round or a run to quiet.
constexpr size_t settle_rounds_max = 40;
constexpr size_t quiet_steps_max = 20'000;

/// One event id the provider may (re)deliver.
struct sim_event {
  std::string event_id;
  size_t object = 0;
  std::string type;
  uuid user{};
  bool known_user = true;
  int64_t credits = 0;
};

struct sim_object {
  std::string object_id;
  uuid user{};
  bool known_user = true;
};

/// A delivery sent and its reply slot.
struct sent_delivery {
  size_t event = 0;
  test::slot<webhook_outcome> answer;
};

uuid seeded_id(std::mt19937_64& rng) {
  uuid id{};
  for (auto& byte : id.data) byte = static_cast<uint8_t>(rng());
  id.data[6] = static_cast<uint8_t>((id.data[6] & 0x0f) | 0x40);
  id.data[8] = static_cast<uint8_t>((id.data[8] & 0x3f) | 0x80);
  return id;
}

class webhook_simulation {
public:
  webhook_simulation(uint64_t seed, size_t steps, simulated_database::sabotage sabotage)
    : rng_(seed), steps_(steps), sabotage_(sabotage) {
    report_.seed = seed;
  }

  webhook_seed_report run() {
    build_world();
    for (step_ = 1; step_ <= steps_ && report_.passed; ++step_) {
      random_step();
      after_step();
    }
    if (report_.passed) settle();
    return report_;
  }

private:
  void build_world() {
    fx_ = std::make_unique<actor_fixture>();
    set_log_level(static_cast<log_level>(static_cast<int>(log_level::error) + 1));
    auto& db = *fx_->db;
    db.set_sabotage(sabotage_);
    auto& context = fx_->context;
    context.ack = rng_() % 3 == 0 ? ack_mode::memory : ack_mode::commit;
    static constexpr size_t pending_choices[] = {1, 2, 16};
    static constexpr size_t waiting_choices[] = {1, 3, 256};
    static constexpr int64_t passivate_ms_choices[] = {100, 2'000};
    context.pending_replies_max = pending_choices[rng_() % 3];
    context.webhook.waiting_deliveries_max = waiting_choices[rng_() % 3];
    passivate_after_ = std::chrono::milliseconds(passivate_ms_choices[rng_() % 2]);
    context.passivate_after = passivate_after_;
    writer_settings writing;
    static constexpr size_t batch_choices[] = {2, 8192};
    writing.batch_records_max = batch_choices[rng_() % 2];
    writing.commit_attempts_max = 1 + static_cast<int>(rng_() % 3);
    fx_->spawn_writer(writing);
    std::vector<reader_actor> readers{fx_->spawn_reader()};
    if (rng_() % 2 == 0) readers.push_back(fx_->spawn_reader());
    registry_ = fx_->spawn_registry(std::move(readers));

    auto user_count = 1 + rng_() % 2;
    for (size_t i = 0; i < user_count; ++i) {
      users_.push_back(seeded_id(rng_));
      db.add_user(users_.back(), balance{});
    }
    auto object_count = 1 + rng_() % objects_max;
    for (size_t i = 0; i < object_count; ++i) {
      sim_object object;
      object.object_id = "cs_" + std::to_string(i);
      object.known_user = rng_() % 8 != 0;
      object.user = object.known_user ? users_[rng_() % users_.size()] : seeded_id(rng_);
      objects_.push_back(object);
      // One event id, or two for one object (the provider's two event types).
      auto ids = 1 + rng_() % 2;
      for (size_t e = 0; e < ids; ++e) {
        sim_event event;
        event.event_id = "evt_" + std::to_string(i) + "_" + std::to_string(e);
        event.object = i;
        event.type = e == 0 ? "checkout.session.completed" : "payment_intent.succeeded";
        event.user = object.user;
        event.known_user = object.known_user;
        event.credits = 1 + static_cast<int64_t>(rng_() % credits_max);
        events_.push_back(event);
      }
    }
    sim_event ignored;
    ignored.event_id = "evt_ignored";
    ignored.type = "customer.created";
    ignored.object = objects_.size();
    events_.push_back(ignored);
    report_.world = std::string("ack=") + (context.ack == ack_mode::commit ? "commit" : "memory")
                    + ", " + std::to_string(users_.size()) + " users, "
                    + std::to_string(objects_.size()) + " objects, "
                    + std::to_string(events_.size()) + " events, window "
                    + std::to_string(context.pending_replies_max) + ", waiting max "
                    + std::to_string(context.webhook.waiting_deliveries_max);
  }

  // -- steps ---------------------------------------------------------------------

  void random_step() {
    auto roll = rng_() % 100;
    if (roll < 55) {
      if (!run_random_job()) advance_time();
    } else if (roll < 75) {
      auto count = 1 + rng_() % 4;
      auto event = rng_() % events_.size();
      // A burst of one event (concurrent redeliveries) or of several.
      for (uint64_t i = 0; i < count; ++i) deliver(rng_() % 2 == 0 ? event : rng_() % events_.size());
    } else if (roll < 85) {
      advance_time();
    } else {
      inject_fault();
    }
  }

  bool run_random_job() {
    auto& jobs = fx_->sched.jobs;
    if (jobs.empty()) return false;
    auto chosen = rng_() % jobs.size();
    std::rotate(jobs.begin(), jobs.begin() + static_cast<std::ptrdiff_t>(chosen),
                jobs.begin() + static_cast<std::ptrdiff_t>(chosen) + 1);
    fx_->sched.run_once();
    return true;
  }

  void advance_time() { fx_->sched.advance_time(std::chrono::milliseconds(1 + rng_() % 200)); }

  void deliver(size_t index) {
    const auto& event = events_[index];
    webhook_delivery delivery;
    delivery.event_id = event.event_id;
    delivery.type = event.type;
    if (is_topup_event(event.type)) {
      delivery.object_id = objects_[event.object].object_id;
      delivery.user = event.user;
      delivery.credits = event.credits;
    }
    delivery.received_at = fx_->virtual_now();
    auto [done, answer] = test::capture<webhook_outcome>();
    dispatch(registry_, webhook_event_key(event.event_id), webhook_delivery_request{delivery},
             std::move(done));
    sent_.push_back({index, answer});
    ++report_.deliveries;
  }

  void inject_fault() {
    auto& db = *fx_->db;
    switch (rng_() % 5) {
      case 0: db.fail_next_commits(1, store_fault::permanent); break;
      case 1: db.fail_next_commits(1 + rng_() % 3, store_fault::transient); break;
      case 2: kill(entity_kind::user); break;
      case 3: kill(entity_kind::webhook_event); break;
      default: fx_->sched.advance_time(passivate_after_ + passivation_sweep_interval(passivate_after_));
    }
  }

  /// Kills a live actor of `kind`: its mailbox and what it owes are lost.
  void kill(entity_kind kind) {
    auto* registry = dynamic_cast<registry_actor::stateful_pointer<registry_state>>(
      caf::actor_cast<caf::abstract_actor*>(registry_));
    std::vector<std::pair<uuid, entity_actor>> live;
    auto collect = [&](const auto& table) {
      for (const auto& [id, entry] : table) live.emplace_back(id, entry.handle);
    };
    if (kind == entity_kind::user)
      collect(std::get<static_cast<size_t>(entity_kind::user)>(registry->state.tables));
    else
      collect(std::get<static_cast<size_t>(entity_kind::webhook_event)>(registry->state.tables));
    if (live.empty()) return;
    std::sort(live.begin(), live.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    caf::anon_send_exit(live[rng_() % live.size()].second, caf::exit_reason::kill);
    ++report_.kills;
  }

  // -- checks --------------------------------------------------------------------

  void fail(const std::string& why) {
    if (!report_.passed) return;
    report_.passed = false;
    report_.failed_step = step_;
    report_.violation = why;
  }

  /// Every answer that arrived since the last step, judged against the store
  /// as it is now (an answer is delivered right after its commit).
  void collect_answers() {
    auto& db = *fx_->db;
    auto payments = db.payments();
    auto records = db.webhook_events();
    size_t kept = 0;
    for (auto& sent : sent_) {
      if (!sent.answer->has_value()) {
        sent_[kept++] = std::move(sent);
        continue;
      }
      const auto& answer = **sent.answer;
      const auto& event = events_[sent.event];
      if (!answer.ok()) {
        ++report_.failures;
        if (answer.error().code != error_code::store_unavailable
            && answer.error().code != error_code::overloaded
            && answer.error().code != error_code::internal)
          fail("delivery of " + event.event_id + " failed with " + to_string(answer.error().code));
        continue;
      }
      auto status = answer.value().status;
      bool topup = is_topup_event(event.type);
      auto paid = topup ? payments.find(payment_object_key(objects_[event.object].object_id))
                        : payments.end();
      switch (status) {
        case webhook_status::processed:
          ++report_.processed;
          if (++processed_by_event_[event.event_id] > 1)
            fail(event.event_id + " answered processed twice");
          if (topup && ++processed_by_object_[event.object] > 1)
            fail(objects_[event.object].object_id + " answered processed under two event ids");
          if (!topup || paid == payments.end() || paid->second.event_id != event.event_id)
            fail(event.event_id + " answered processed before its top-up was committed");
          if (auto record = records.find(webhook_event_key(event.event_id));
              record == records.end() || record->second.status != webhook_status::processed)
            fail(event.event_id + " answered processed without a committed processed record");
          break;
        case webhook_status::duplicate:
          ++report_.duplicates;
          if (topup && paid == payments.end())
            fail(event.event_id + " answered duplicate while its object is not paid");
          break;
        case webhook_status::ignored:
          if (topup) fail(event.event_id + " (a top-up type) answered ignored");
          break;
        case webhook_status::rejected:
          if (!topup || event.known_user) fail(event.event_id + " rejected although its user exists");
          break;
        case webhook_status::processing: fail("a delivery answered processing"); break;
      }
    }
    sent_.resize(kept);
  }

  /// The store: one top-up per object, with its payment row; balances equal
  /// their top-ups; nothing for an unknown user.
  void check_store() {
    auto& db = *fx_->db;
    auto payments = db.payments();
    std::map<std::string, int> topups;
    for (const auto& user : users_) {
      int64_t sum = 0;
      for (const auto& entry : db.ledger(user)) {
        if (entry.type != ledger_type::topup) {
          fail("a ledger entry other than a top-up");
          continue;
        }
        sum += entry.amount;
        if (++topups[entry.reference] > 1) fail(entry.reference + " topped up twice");
        auto paid = payments.find(payment_object_key(entry.reference));
        if (paid == payments.end() || paid->second.user_id != user || paid->second.credits != entry.amount)
          fail(entry.reference + " topped up without its payment row");
      }
      auto committed = db.committed_balance(user);
      if (!committed || committed->available != sum)
        fail("a balance differs from the sum of its top-ups");
    }
    if (topups.size() != payments.size()) fail("a payment row without its top-up");
    for (const auto& [key, payment] : payments) {
      (void)key;
      auto object = std::find_if(objects_.begin(), objects_.end(),
                                 [&](const sim_object& o) { return o.object_id == payment.object_id; });
      if (object == objects_.end() || !object->known_user) fail("a payment for an unknown user");
    }
  }

  void after_step() {
    collect_answers();
    check_store();
  }

  // -- settling ------------------------------------------------------------------

  /// Runs until no job is left and every sent delivery is answered.
  void run_quiet() {
    for (size_t i = 0; i < quiet_steps_max && report_.passed; ++i) {
      ++step_;
      if (!run_random_job()) {
        if (sent_.empty() && fx_->health.backlog_records.load() == 0) return;
        fx_->sched.advance_time(std::chrono::milliseconds(100));
      }
      after_step();
    }
    if (report_.passed && !sent_.empty()) fail(std::to_string(sent_.size()) + " deliveries never answered");
  }

  /// Healed: the provider redelivers every event until it settles.
  void settle() {
    fx_->db->fail_next_commits(0, store_fault::transient);
    fx_->db->clear_commit_failures();
    run_quiet();
    std::set<size_t> open;
    for (size_t i = 0; i < events_.size(); ++i) open.insert(i);
    for (size_t round = 0; round < settle_rounds_max && !open.empty() && report_.passed; ++round) {
      std::vector<std::pair<size_t, test::slot<webhook_outcome>>> round_answers;
      for (auto index : open) {
        deliver(index);
        round_answers.emplace_back(index, sent_.back().answer);
      }
      run_quiet();
      last_answers_.clear();
      for (const auto& [index, answer] : round_answers) {
        if (answer->has_value() && (*answer)->ok()) open.erase(index);
        last_answers_ += " " + events_[index].event_id + ": "
                         + (!answer->has_value() ? std::string("no answer")
                            : (*answer)->ok()    ? std::string(to_string((*answer)->value().status))
                                                 : to_string((*answer)->error().code));
      }
    }
    if (!report_.passed) return;
    if (!open.empty())
      fail(std::to_string(open.size()) + " events never settled after healing (last answers:"
           + last_answers_ + ")");
    auto payments = fx_->db->payments();
    for (const auto& object : objects_) {
      bool paid = payments.count(payment_object_key(object.object_id)) > 0;
      if (object.known_user && !paid) fail(object.object_id + " of a known user never topped up");
    }
  }

  std::mt19937_64 rng_;
  size_t steps_;
  simulated_database::sabotage sabotage_;
  webhook_seed_report report_;
  size_t step_ = 0;
  std::unique_ptr<actor_fixture> fx_;
  registry_actor registry_;
  caf::timespan passivate_after_{std::chrono::seconds(1)};
  std::vector<uuid> users_;
  std::vector<sim_object> objects_;
  std::vector<sim_event> events_;
  std::vector<sent_delivery> sent_;
  std::map<std::string, int> processed_by_event_;
  std::map<size_t, int> processed_by_object_;
  std::string last_answers_;
};

} // namespace

webhook_seed_report run_webhook_seed(uint64_t seed, size_t steps, simulated_database::sabotage sabotage) {
  return webhook_simulation{seed, steps, sabotage}.run();
}

std::string to_string(const webhook_seed_report& report) {
  if (report.passed) return "webhook seed " + std::to_string(report.seed) + " passed";
  return "webhook seed " + std::to_string(report.seed) + " failed at step "
         + std::to_string(report.failed_step) + ": " + report.violation + " [" + report.world + "]";
}

} // namespace tally::sim
