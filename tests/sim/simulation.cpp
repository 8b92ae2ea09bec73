#include "tests/sim/simulation.hpp"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "tests/actors/actor_fixture.hpp"

#include "protocols/auth_tokens.hpp"
#include "protocols/log.hpp"
#include "tests/sim/auth_checker.hpp"
#include "tests/sim/tenant_traffic.hpp"

namespace tally::sim {

namespace {

using namespace std::chrono_literals;
using test::actor_fixture;

// -- limits and weights (all per seed) ---------------------------------------------

/// Users per seed: few, so that commands collide on them.
constexpr size_t users_max = 4;
/// Initial committed balance of a user, at most.
constexpr int64_t initial_balance_max = 100;
/// Amount ranges of new commands (credits).
constexpr int64_t charge_amount_max = 25;
constexpr int64_t grant_amount_max = 60;
constexpr int64_t debit_amount_max = 30;
/// Commands one client burst sends at once (concurrent requests).
constexpr uint64_t burst_commands_max = 3;
/// Virtual time per idle quiescence step: fires back-offs and ticks.
constexpr caf::timespan quiesce_tick = 100ms;
/// A random time step is at most this long (batches accumulate meanwhile).
constexpr uint64_t time_step_ms_max = 80;
/// Consecutive commits one transient fault fails, at most.
constexpr uint64_t transient_failures_max = 3;
/// Fault windows, in steps.
constexpr uint64_t outage_steps_max = 25;
constexpr uint64_t poison_steps_max = 20;
constexpr uint64_t writer_stall_steps_max = 60;
constexpr uint64_t reader_stall_steps_max = 40;
/// Attempts (same key, same body) a final probe grant gets after healing.
constexpr size_t probe_attempts_max = 2;
/// Emails that can log in, in a seed with logins.
constexpr uint64_t identities_max = 2;
/// Percent of client commands that are auth commands, in a seed with logins.
constexpr uint64_t auth_command_percent = 25;
/// Refresh grace windows a seed picks from: short ones make both the grace
/// answer and reuse detection happen within a seed's virtual time.
constexpr int64_t refresh_grace_s_choices[] = {0, 1, 10};
/// Limits high enough never to refuse a simulated client (limits have
/// their own tests); a refusal here would be a bug.
constexpr int64_t auth_limit_unreachable = 1'000'000'000;
/// Login sessions the final (healed) auth round exercises, at most.
constexpr size_t final_auth_sessions_max = 4;
/// Quiet: the simulation injects thousands of expected failures, and the
/// actors log each one (log_enabled(level) is level >= minimum, so a
/// minimum above error silences everything).
constexpr auto log_level_silent = static_cast<log_level>(static_cast<int>(log_level::error) + 1);

/// What a step does, by weight: running a pending actor is the common
/// case; how hard clients push and how often faults strike vary per seed,
/// from calm to stormy.
constexpr uint64_t run_job_weight = 64;
constexpr uint64_t client_weight_choices[] = {12, 24, 40};
constexpr uint64_t advance_time_weight = 8;
constexpr uint64_t fault_weight_choices[] = {1, 2, 4, 8};

/// The faults, in the order of fault_kind_names (simulation.hpp).
enum class fault_kind : uint8_t {
  permanent_commit,   ///< the next commit fails permanently
  transient_commits,  ///< the next 1-3 commits fail transiently
  outage,             ///< the store is unreachable for some steps
  poisoned_user,      ///< commits touching one user fail for some steps
  epoch_bump,         ///< another owner activates a user (fencing)
  kill,               ///< a live user actor is killed
  writer_stall,       ///< the writer is not scheduled for some steps
  reader_stall,       ///< the readers are not scheduled for some steps
  passivation,        ///< a whole passivation period passes
};
static_assert(static_cast<size_t>(fault_kind::passivation) + 1 == fault_kind_count);

/// The faults a transient-only seed may inject: nothing that fails for good.
constexpr fault_kind transient_faults[] = {fault_kind::transient_commits, fault_kind::writer_stall,
                                           fault_kind::reader_stall, fault_kind::passivation};

/// Which faults a seed may inject.
enum class fault_profile : uint8_t {
  /// Only transient commit failures (retried until they pass), stalls and
  /// passivation: nothing may be lost and no request may see 503.
  transient_only,
  /// Everything: outages, permanent and fenced commits, killed users.
  mixed,
};

// -- small helpers -----------------------------------------------------------------

/// FNV-1a over the decisions of a run.
struct trace_hasher {
  uint64_t value = 1469598103934665603ULL;
  void add(uint64_t x) {
    for (int i = 0; i < 8; ++i) {
      value ^= (x >> (i * 8)) & 0xff;
      value *= 1099511628211ULL;
    }
  }
};

/// A version-4 UUID drawn from the seed's generator (user ids decide the
/// registry's hash-map order, so they must come from the seed).
uuid seeded_uuid(std::mt19937_64& rng) {
  uuid id{};
  for (size_t i = 0; i < 16; i += 8) {
    auto bits = rng();
    for (size_t j = 0; j < 8; ++j) id.data[i + j] = static_cast<uint8_t>(bits >> (j * 8));
  }
  id.data[6] = static_cast<uint8_t>((id.data[6] & 0x0f) | 0x40);
  id.data[8] = static_cast<uint8_t>((id.data[8] & 0x3f) | 0x80);
  return id;
}

template <class T, size_t N>
T pick(std::mt19937_64& rng, const T (&choices)[N]) {
  return choices[rng() % N];
}

/// One request a simulated client is waiting on.
struct pending_op {
  enum class kind : uint8_t {
    charge, credit, balance, ledger, unknown_user,
    link_request, verify, refresh, logout, session_read, unknown_verify,
  };
  kind what = kind::charge;
  size_t user = 0;
  /// Auth commands: the identity or login session, the token presented,
  /// and the step the command was sent at.
  size_t identity = 0;
  size_t session = 0;
  std::string token;
  size_t sent_at = 0;
  test::challenge_slot challenge;
  test::grant_slot grant;
  test::logout_slot bye;
  std::string key;
  op_body body;
  /// The key was committed when this was sent: it must not run again.
  bool committed_when_sent = false;
  test::charge_slot charged;
  test::credit_slot credited;
  test::balance_slot read;
  test::ledger_slot page;
};

/// A mutation a client sent, for later retries and reuse.
struct sent_mutation {
  size_t user = 0;
  std::string key;
  op_body body;
};

class simulation {
public:
  simulation(uint64_t seed, const sim_settings& settings)
    : rng_(seed),
      id_rng_(seed ^ 0x5eed1d5ULL),
      settings_(settings),
      checker_(checker_rules{}),
      auth_checker_(checker_rules{}) {
    report_.seed = seed;
  }

  seed_report run();

private:
  // -- set-up ------------------------------------------------------------------
  void build_world();

  // -- steps ---------------------------------------------------------------------
  void random_step();
  bool run_random_job();
  void client_burst();
  void client_command();
  void advance_time();
  void inject_fault();
  void count_down_faults();
  void heal();

  // -- commands ------------------------------------------------------------------
  void send_mutation(size_t user, const std::string& key, const op_body& body);
  void send_read(size_t user, bool ledger);
  void send_unknown_user();
  void auth_command();
  void send_link_request(size_t identity);
  void send_verify(size_t identity, const std::string& token);
  void send_unknown_verify();
  bool identity_actor_live(const uuid& id);
  void send_session_command(size_t session, pending_op::kind what);
  void collect_auth_reply(pending_op& op, bool& delivered, error_code& code);
  size_t pick_user();
  op_body new_body();
  caller caller_of(size_t user) const { return caller{users_[user], sessions_[user]}; }
  uuid add_session(const uuid& user);

  // -- checking ------------------------------------------------------------------
  void after_step();
  void collect_replies();
  bool quiesce();
  void final_probes();
  void final_auth_round();
  bool failed() const {
    return !checker_.ok() || !auth_checker_.ok() || (tenants_ && tenants_->violation());
  }
  void trace(const std::string& what) {
    if (settings_.trace) std::cout << "  step " << step_ << ": " << what << "\n";
  }

  std::mt19937_64 rng_;
  /// Ids the actors create (users made by a login, sessions): their own
  /// generator, so the client's choices do not depend on how many were made.
  std::mt19937_64 id_rng_;
  sim_settings settings_;
  invariant_checker checker_;
  auth_checker auth_checker_;
  /// Logins in this seed: the emails, the magic tokens each was sent, and
  /// every refresh token each login session was handed.
  bool auth_ = false;
  std::vector<std::string> emails_;
  std::vector<std::vector<std::string>> tokens_;
  std::vector<std::vector<std::string>> session_tokens_;
  seed_report report_;
  trace_hasher hash_;
  size_t step_ = 0;

  std::unique_ptr<actor_fixture> fx_;
  /// Tenants and subdomains, in the seeds that have them (tenant_traffic.hpp).
  std::unique_ptr<tenant_traffic> tenants_;
  fault_profile profile_ = fault_profile::mixed;
  ack_mode ack_ = ack_mode::commit;
  std::vector<uuid> users_;
  /// Each user's session (in the store from the start): every command of a
  /// client names it, as a verified access token would.
  std::vector<uuid> sessions_;
  caller unknown_caller_{};
  writer_actor writer_;
  registry_actor registry_;
  /// The login gate (actors/login_gate.hpp), through which every auth
  /// command goes, as in production; seen through the registry's command type.
  registry_actor front_door_;
  /// Identities no client ever requests: made-up tokens name them (a few,
  /// so that the gate's memory of unknown identities is exercised too).
  std::vector<uuid> unknown_identities_;
  caf::resumable* writer_job_ = nullptr;
  std::vector<caf::resumable*> reader_jobs_;
  caf::timespan passivate_after_{1s};
  uint64_t client_weight_ = 0;
  uint64_t fault_weight_ = 0;

  std::vector<pending_op> outstanding_;
  std::vector<sent_mutation> sent_;
  uint64_t next_op_ = 0;
  std::vector<size_t> candidates_;

  // Fault windows (steps left).
  uint64_t outage_left_ = 0;
  uint64_t poison_left_ = 0;
  uint64_t writer_stall_left_ = 0;
  uint64_t reader_stall_left_ = 0;
};

// -- set-up ----------------------------------------------------------------------

void simulation::build_world() {
  profile_ = rng_() % 10 < 3 ? fault_profile::transient_only : fault_profile::mixed;
  ack_ = rng_() % 10 < 2 ? ack_mode::memory : ack_mode::commit;
  checker_rules rules;
  rules.ack = ack_;
  rules.store_unavailable_allowed = profile_ == fault_profile::mixed;
  rules.dropped_allowed = profile_ == fault_profile::mixed;
  rules.acknowledged_loss_allowed = ack_ == ack_mode::memory && profile_ == fault_profile::mixed;
  checker_ = invariant_checker{rules};
  auth_checker_ = auth_checker{rules};
  client_weight_ = pick(rng_, client_weight_choices);
  fault_weight_ = pick(rng_, fault_weight_choices);

  fx_ = std::make_unique<actor_fixture>();
  set_log_level(log_level_silent);
  auto& db = *fx_->db;
  db.set_sabotage(settings_.sabotage);
  db.observe_commits([this](const write_batch& batch) { checker_.on_commit(batch); });

  static constexpr size_t pending_choices[] = {2, 4, 16, 1024};
  static constexpr size_t cached_choices[] = {1, 2, 4, 4096};
  static constexpr int64_t backlog_choices[] = {6, 15, 30, 100'000, 100'000};
  static constexpr int commit_attempts_choices[] = {1, 3, 10};
  static constexpr size_t batch_choices[] = {3, 9, 8192};
  static constexpr int64_t passivate_ms_choices[] = {100, 400, 2'000};
  auto& context = fx_->context;
  context.ack = ack_;
  passivate_after_ = std::chrono::milliseconds(pick(rng_, passivate_ms_choices));
  context.passivate_after = passivate_after_;
  context.pending_replies_max = pick(rng_, pending_choices);
  context.idempotency_cached_max = pick(rng_, cached_choices);
  fx_->health.backlog_records_max = pick(rng_, backlog_choices);
  auth_ = rng_() % 2 == 0;
  context.new_id = [this] { return seeded_uuid(id_rng_); };
  if (auth_) {
    auto& auth = context.auth;
    auth.dev = true;  // the simulated client reads its token from the challenge
    auth.magic_link_per_email = rate_limit{auth_limit_unreachable, std::chrono::minutes(1)};
    auth.refresh_per_session = rate_limit{auth_limit_unreachable, std::chrono::minutes(1)};
    auth.refresh_grace = std::chrono::seconds(pick(rng_, refresh_grace_s_choices));
    auto identity_count = 1 + rng_() % identities_max;
    for (size_t i = 0; i < identity_count; ++i) {
      emails_.push_back("login" + std::to_string(i) + "@sim.test");
      tokens_.emplace_back();
      auth_checker_.add_identity(emails_.back());
    }
  }

  writer_settings writing;
  writing.batch_records_max = pick(rng_, batch_choices);
  // Transient-only seeds retry for ever: nothing may be given up there.
  writing.commit_attempts_max = profile_ == fault_profile::transient_only
                                  ? 1'000'000
                                  : pick(rng_, commit_attempts_choices);
  writer_ = fx_->spawn_writer(writing);
  writer_job_ = dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(writer_));
  std::vector<reader_actor> readers;
  auto reader_count = 1 + rng_() % 3;
  for (size_t i = 0; i < reader_count; ++i) {
    readers.push_back(fx_->spawn_reader());
    reader_jobs_.push_back(
      dynamic_cast<caf::resumable*>(caf::actor_cast<caf::abstract_actor*>(readers.back())));
  }
  auto gate_readers = readers;
  registry_ = fx_->spawn_registry(std::move(readers));
  // No per-IP limits: the simulated clients have no addresses.
  front_door_ = caf::actor_cast<registry_actor>(
    fx_->spawn_login_gate(registry_, std::move(gate_readers), anonymous_limiters{}));
  for (int i = 0; i < 2; ++i) unknown_identities_.push_back(seeded_uuid(rng_));

  auto user_count = 1 + rng_() % users_max;
  for (size_t i = 0; i < user_count; ++i) {
    auto id = seeded_uuid(rng_);
    balance initial{static_cast<int64_t>(rng_() % (initial_balance_max + 1)), 0};
    db.add_user(id, initial);
    checker_.add_user(id, initial);
    users_.push_back(id);
    sessions_.push_back(add_session(id));
  }
  unknown_caller_ = caller{seeded_uuid(rng_), seeded_uuid(rng_)};
  tenants_ = tenant_traffic::for_seed(report_.seed, *fx_, users_);
  if (tenants_) tenants_->use_registry(registry_);

  report_.world = std::string(profile_ == fault_profile::mixed ? "mixed" : "transient-only")
                  + " faults, ack=" + (ack_ == ack_mode::commit ? "commit" : "memory") + ", "
                  + std::to_string(user_count) + " users, " + std::to_string(reader_count)
                  + " readers, window " + std::to_string(context.pending_replies_max)
                  + ", cached keys " + std::to_string(context.idempotency_cached_max)
                  + ", backlog max " + std::to_string(fx_->health.backlog_records_max)
                  + ", batch max " + std::to_string(writing.batch_records_max)
                  + ", commit attempts " + std::to_string(writing.commit_attempts_max)
                  + ", passivate after "
                  + std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     passivate_after_).count())
                  + " ms, client weight " + std::to_string(client_weight_) + ", fault weight "
                  + std::to_string(fault_weight_)
                  + (auth_ ? ", logins for " + std::to_string(emails_.size())
                               + " emails, refresh grace "
                               + std::to_string(context.auth.refresh_grace.count()) + " s"
                           : std::string{})
                  + (tenants_ ? ", " + tenants_->describe() : std::string{});
}

uuid simulation::add_session(const uuid& user) {
  session_row session;
  session.id = seeded_uuid(rng_);
  session.user_id = user;
  session.refresh_hash = "refresh-" + tally::to_string(session.id);
  session.created_at = fx_->virtual_now();
  // Far beyond any seed's virtual time: sessions never expire here.
  session.expires_at = session.created_at + micros(std::chrono::hours(24 * 365));
  fx_->db->create_session(
    session, refresh_token_row{session.refresh_hash, session.id, user, session.created_at});
  return session.id;
}

// -- steps -------------------------------------------------------------------------

void simulation::random_step() {
  auto total = run_job_weight + client_weight_ + advance_time_weight + fault_weight_;
  auto roll = rng_() % total;
  if (roll < run_job_weight) {
    if (!run_random_job()) advance_time();
  } else if (roll < run_job_weight + client_weight_) {
    client_burst();
  } else if (roll < run_job_weight + client_weight_ + advance_time_weight) {
    advance_time();
  } else {
    inject_fault();
  }
  count_down_faults();
}

bool simulation::run_random_job() {
  auto& jobs = fx_->sched.jobs;
  candidates_.clear();
  for (size_t i = 0; i < jobs.size(); ++i) {
    auto* job = jobs[i];
    bool stalled = (writer_stall_left_ > 0 && job == writer_job_)
                   || (reader_stall_left_ > 0
                       && std::find(reader_jobs_.begin(), reader_jobs_.end(), job)
                            != reader_jobs_.end());
    if (!stalled) candidates_.push_back(i);
  }
  if (candidates_.empty()) return false;
  auto chosen = candidates_[rng_() % candidates_.size()];
  hash_.add(1);
  hash_.add(chosen);
  hash_.add(jobs.size());
  if (settings_.trace) {
    auto* actor = dynamic_cast<caf::local_actor*>(jobs[chosen]);
    trace(std::string("run ") + (actor ? actor->name() : "?") + " (job " + std::to_string(chosen)
          + " of " + std::to_string(jobs.size()) + ")");
  }
  if (chosen != 0)
    std::rotate(jobs.begin(), jobs.begin() + static_cast<std::ptrdiff_t>(chosen),
                jobs.begin() + static_cast<std::ptrdiff_t>(chosen) + 1);
  fx_->sched.run_once();
  return true;
}

size_t simulation::pick_user() {
  // Half the traffic goes to one hot user: contention is the point.
  if (rng_() % 2 == 0) return 0;
  return rng_() % users_.size();
}

op_body simulation::new_body() {
  op_body body;
  body.tag = "op-" + std::to_string(++next_op_);
  auto roll = rng_() % 100;
  if (roll < 60) {
    body.kind = op_kind::charge;
    body.amount = 1 + static_cast<int64_t>(rng_() % charge_amount_max);
  } else if (roll < 85) {
    body.kind = op_kind::credit;
    body.amount = 1 + static_cast<int64_t>(rng_() % grant_amount_max);
  } else {
    body.kind = op_kind::credit;
    body.amount = -(1 + static_cast<int64_t>(rng_() % debit_amount_max));
  }
  return body;
}

void simulation::client_burst() {
  auto count = 1 + rng_() % burst_commands_max;
  for (uint64_t i = 0; i < count; ++i) client_command();
  if (tenants_) tenants_->send_commands();
}

void simulation::client_command() {
  if (auth_ && rng_() % 100 < auth_command_percent) {
    auth_command();
    return;
  }
  auto roll = rng_() % 100;
  if (roll < 2) {
    send_unknown_user();
  } else if (roll < 10) {
    send_read(pick_user(), false);
  } else if (roll < 13) {
    send_read(pick_user(), true);
  } else if (roll < 28 && !sent_.empty()) {
    // A retry: same key, same body (a client that timed out, a double click).
    auto earlier = sent_[rng_() % sent_.size()];
    send_mutation(earlier.user, earlier.key, earlier.body);
  } else if (roll < 33 && !sent_.empty()) {
    // Same key, another body: a client bug the API must refuse.
    auto earlier = sent_[rng_() % sent_.size()];
    auto body = earlier.body;
    body.tag = "op-" + std::to_string(++next_op_);
    body.amount += body.amount > 0 ? 1 : -1;
    sent_.push_back({earlier.user, earlier.key, body});
    send_mutation(earlier.user, earlier.key, body);
  } else {
    auto user = pick_user();
    auto body = new_body();
    auto key = "k" + std::to_string(next_op_);
    sent_.push_back({user, key, body});
    send_mutation(user, key, body);
  }
}

void simulation::send_mutation(size_t user, const std::string& key, const op_body& body) {
  checker_.add_body(body);
  pending_op op;
  op.committed_when_sent = checker_.on_sent(users_[user], key, body);
  op.user = user;
  op.key = key;
  op.body = body;
  idempotency idem{key, body.digest()};
  if (body.kind == op_kind::charge) {
    op.what = pending_op::kind::charge;
    auto [done, slot] = test::capture<mutation_reply<charge_result>>();
    op.charged = slot;
    dispatch(registry_, users_[user],
             charge_request{sessions_[user], charge_command{body.amount, body.tag, std::move(idem)}},
             std::move(done));
  } else {
    op.what = pending_op::kind::credit;
    auto [done, slot] = test::capture<mutation_reply<credit_result>>();
    op.credited = slot;
    dispatch(registry_, users_[user],
             credit_request{credit_command{body.amount, body.tag, std::move(idem)}},
             std::move(done));
  }
  hash_.add(2);
  hash_.add(user);
  hash_.add(static_cast<uint64_t>(body.amount));
  trace("send " + body.digest() + " key " + key + " to user " + std::to_string(user));
  outstanding_.push_back(std::move(op));
}

void simulation::send_read(size_t user, bool ledger) {
  pending_op op;
  op.user = user;
  if (ledger) {
    op.what = pending_op::kind::ledger;
    auto [done, slot] = test::capture<ledger_page>();
    op.page = slot;
    ledger_query query;
    query.limit = 5;
    dispatch(registry_, users_[user], ledger_request{sessions_[user], query}, std::move(done));
  } else {
    op.what = pending_op::kind::balance;
    auto [done, slot] = test::capture<balance>();
    op.read = slot;
    dispatch(registry_, users_[user], balance_request{sessions_[user]}, std::move(done));
  }
  hash_.add(3);
  hash_.add(user);
  trace(std::string("read ") + (ledger ? "ledger" : "balance") + " of user "
        + std::to_string(user));
  outstanding_.push_back(std::move(op));
}

void simulation::send_unknown_user() {
  pending_op op;
  op.what = pending_op::kind::unknown_user;
  op.key = "k-nobody";
  op.body = op_body{op_kind::charge, 1, "nobody"};
  auto [done, slot] = test::capture<mutation_reply<charge_result>>();
  op.charged = slot;
  dispatch(registry_, unknown_caller_.user,
           charge_request{unknown_caller_.session, charge_command{1, "nobody", {op.key, op.body.digest()}}},
           std::move(done));
  hash_.add(4);
  trace("charge an unknown user");
  outstanding_.push_back(std::move(op));
}

void simulation::auth_command() {
  auto identity = rng_() % emails_.size();
  const auto& tokens = tokens_[identity];
  auto sessions = auth_checker_.session_count();
  auto roll = rng_() % 100;
  if (roll < 5) {
    send_unknown_verify();
  } else if (tokens.empty() || (sessions == 0 && roll < 50) || (sessions > 0 && roll < 15)) {
    send_link_request(identity);
  } else if (sessions == 0 || roll < 40) {
    // Mostly the newest token; sometimes any token the identity was sent:
    // used, or one a concurrent verify is using right now.
    send_verify(identity, rng_() % 3 != 0 ? tokens.back() : tokens[rng_() % tokens.size()]);
  } else if (roll < 60) {
    send_session_command(rng_() % sessions, pending_op::kind::refresh);
  } else if (roll < 70) {
    send_session_command(rng_() % sessions, pending_op::kind::logout);
  } else {
    send_session_command(rng_() % sessions, pending_op::kind::session_read);
  }
}

void simulation::send_link_request(size_t identity) {
  pending_op op;
  op.what = pending_op::kind::link_request;
  op.identity = identity;
  op.sent_at = step_;
  op.challenge = fx_->request_link(front_door_, emails_[identity]);
  hash_.add(8);
  hash_.add(identity);
  trace("request a magic link for " + emails_[identity]);
  outstanding_.push_back(std::move(op));
}

void simulation::send_verify(size_t identity, const std::string& token) {
  pending_op op;
  op.what = pending_op::kind::verify;
  op.identity = identity;
  op.token = token;
  op.sent_at = step_;
  op.grant = fx_->verify_link(front_door_, token);
  hash_.add(9);
  hash_.add(identity);
  trace("verify a magic link of " + emails_[identity]);
  outstanding_.push_back(std::move(op));
}

void simulation::send_unknown_verify() {
  pending_op op;
  op.what = pending_op::kind::unknown_verify;
  op.identity = rng_() % unknown_identities_.size();
  op.sent_at = step_;
  op.grant = fx_->verify_link(front_door_, make_magic_token(unknown_identities_[op.identity]));
  hash_.add(10);
  hash_.add(op.identity);
  trace("verify a made-up magic link of unknown identity " + std::to_string(op.identity));
  outstanding_.push_back(std::move(op));
}

bool simulation::identity_actor_live(const uuid& id) {
  auto* registry = dynamic_cast<registry_actor::stateful_pointer<registry_state>>(
    caf::actor_cast<caf::abstract_actor*>(registry_));
  auto& identities = std::get<static_cast<size_t>(entity_kind::identity)>(registry->state.tables);
  return identities.find(id) != nullptr;
}

void simulation::send_session_command(size_t session, pending_op::kind what) {
  pending_op op;
  op.what = what;
  op.session = session;
  op.sent_at = step_;
  caller who{auth_checker_.user_of(session), auth_checker_.id_of(session)};
  switch (what) {
    case pending_op::kind::refresh: {
      // Mostly the newest token, sometimes an older one (a client that lost
      // a response, or a thief).
      const auto& tokens = session_tokens_[session];
      op.token = rng_() % 3 != 0 ? tokens.back() : tokens[rng_() % tokens.size()];
      op.grant = fx_->refresh(front_door_, op.token);
      trace("refresh session " + std::to_string(session));
      break;
    }
    case pending_op::kind::logout:
      op.bye = fx_->logout(registry_, who);
      trace("log out session " + std::to_string(session));
      break;
    default:
      op.read = fx_->get_balance(registry_, who);
      trace("balance with session " + std::to_string(session));
      break;
  }
  auth_checker_.on_sent(session, what != pending_op::kind::session_read);
  hash_.add(10);
  hash_.add(static_cast<uint64_t>(what));
  hash_.add(session);
  outstanding_.push_back(std::move(op));
}

void simulation::collect_auth_reply(pending_op& op, bool& delivered, error_code& code) {
  auto& db = *fx_->db;
  auto code_of = [](const auto& answer) { return answer.ok() ? error_code::none : answer.error().code; };
  switch (op.what) {
    case pending_op::kind::link_request:
      if ((delivered = op.challenge->has_value())) {
        const auto& answer = **op.challenge;
        code = code_of(answer);
        auth_checker_.on_challenge_reply(answer);
        if (answer.ok()) tokens_[op.identity].push_back(answer.value().debug_secret);
      }
      break;
    case pending_op::kind::verify:
      if ((delivered = op.grant->has_value())) {
        const auto& answer = **op.grant;
        code = code_of(answer);
        if (auth_checker_.on_verify_reply(db, op.identity, op.token, answer))
          session_tokens_.push_back({answer.value().refresh_token});
      }
      break;
    case pending_op::kind::refresh:
      if ((delivered = op.grant->has_value())) {
        const auto& answer = **op.grant;
        code = code_of(answer);
        auth_checker_.on_refresh_reply(db, op.session, op.sent_at, step_, answer);
        if (answer.ok()) session_tokens_[op.session].push_back(answer.value().refresh_token);
      }
      break;
    case pending_op::kind::logout:
      if ((delivered = op.bye->has_value())) {
        const auto& answer = **op.bye;
        code = code_of(answer);
        auth_checker_.on_logout_reply(db, op.session, op.sent_at, step_, answer);
      }
      break;
    case pending_op::kind::unknown_verify:
      if ((delivered = op.grant->has_value())) {
        const auto& id = unknown_identities_[op.identity];
        code = code_of(**op.grant);
        auth_checker_.on_unknown_verify_reply(id, identity_actor_live(id), **op.grant);
      }
      break;
    case pending_op::kind::session_read:
      if ((delivered = op.read->has_value())) {
        const auto& answer = **op.read;
        code = code_of(answer);
        auth_checker_.on_session_read_reply(op.session, op.sent_at, answer);
      }
      break;
    default: break;
  }
}

void simulation::advance_time() {
  auto ms = 1 + rng_() % time_step_ms_max;
  hash_.add(5);
  hash_.add(ms);
  trace("advance time " + std::to_string(ms) + " ms");
  fx_->sched.advance_time(std::chrono::milliseconds(ms));
}

void simulation::inject_fault() {
  if (tenants_ && tenants_->maybe_crash([this](const std::string& what) { trace(what); })) return;
  auto& db = *fx_->db;
  auto kind = profile_ == fault_profile::transient_only
                ? pick(rng_, transient_faults)
                : static_cast<fault_kind>(rng_() % fault_kind_count);
  hash_.add(6);
  hash_.add(static_cast<uint64_t>(kind));
  ++report_.faults;
  ++report_.faults_by_kind[static_cast<size_t>(kind)];
  switch (kind) {
    case fault_kind::permanent_commit:
      trace("fault: next commit fails permanently");
      db.fail_next_commits(1, store_fault::permanent);
      break;
    case fault_kind::transient_commits: {
      auto count = 1 + rng_() % transient_failures_max;
      trace("fault: next " + std::to_string(count) + " commits fail transiently");
      db.fail_next_commits(count, store_fault::transient);
      break;
    }
    case fault_kind::outage:
      outage_left_ = 1 + rng_() % outage_steps_max;
      trace("fault: store unreachable for " + std::to_string(outage_left_) + " steps");
      db.set_reachable(false);
      break;
    case fault_kind::poisoned_user: {
      auto user = rng_() % users_.size();
      poison_left_ = 1 + rng_() % poison_steps_max;
      trace("fault: commits touching user " + std::to_string(user) + " fail for "
            + std::to_string(poison_left_) + " steps");
      db.fail_commits_touching(users_[user], store_fault::permanent);
      break;
    }
    case fault_kind::epoch_bump: {
      auto user = rng_() % users_.size();
      trace("fault: another owner activates user " + std::to_string(user) + " (epoch bump)");
      db.bump_epoch(users_[user]);
      break;
    }
    case fault_kind::kill: {
      // Kill a random live user actor: its mailbox and uncommitted writes are
      // lost with it; the next command re-activates it from the store.
      auto* registry = dynamic_cast<registry_actor::stateful_pointer<registry_state>>(
        caf::actor_cast<caf::abstract_actor*>(registry_));
      std::vector<std::pair<uuid, user_actor>> live;
      const auto& users = std::get<static_cast<size_t>(entity_kind::user)>(registry->state.tables);
      for (const auto& [id, entry] : users) live.emplace_back(id, entry.handle);
      if (live.empty()) {
        trace("fault: kill (no live user)");
        break;
      }
      std::sort(live.begin(), live.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      auto victim = rng_() % live.size();
      trace("fault: kill user actor " + tally::to_string(live[victim].first).substr(0, 8));
      caf::anon_send_exit(live[victim].second, caf::exit_reason::kill);
      ++report_.kills;
      break;
    }
    case fault_kind::writer_stall:
      writer_stall_left_ = 1 + rng_() % writer_stall_steps_max;
      trace("fault: writer stalls for " + std::to_string(writer_stall_left_) + " steps");
      break;
    case fault_kind::reader_stall:
      reader_stall_left_ = 1 + rng_() % reader_stall_steps_max;
      trace("fault: readers stall for " + std::to_string(reader_stall_left_) + " steps");
      break;
    case fault_kind::passivation:
      trace("passivation: advance time by passivate_after");
      fx_->sched.advance_time(passivate_after_ + passivation_sweep_interval(passivate_after_));
      break;
  }
}

void simulation::count_down_faults() {
  auto& db = *fx_->db;
  if (outage_left_ > 0 && --outage_left_ == 0) {
    trace("store reachable again");
    db.set_reachable(true);
  }
  if (poison_left_ > 0 && --poison_left_ == 0) {
    trace("commit failures cleared");
    db.clear_commit_failures();
  }
  if (writer_stall_left_ > 0) --writer_stall_left_;
  if (reader_stall_left_ > 0) --reader_stall_left_;
}

void simulation::heal() {
  auto& db = *fx_->db;
  db.set_reachable(true);
  db.clear_commit_failures();
  outage_left_ = poison_left_ = writer_stall_left_ = reader_stall_left_ = 0;
}

// -- checking ----------------------------------------------------------------------

void simulation::collect_replies() {
  auto& db = *fx_->db;
  size_t kept = 0;
  for (size_t i = 0; i < outstanding_.size(); ++i) {
    auto& op = outstanding_[i];
    bool delivered = false;
    error_code code = error_code::none;
    switch (op.what) {
      case pending_op::kind::charge:
        if ((delivered = op.charged->has_value())) {
          const auto& answer = **op.charged;
          code = answer.ok() ? error_code::none : answer.error().code;
          checker_.on_charge_reply(db, users_[op.user], op.key, op.body, op.committed_when_sent,
                                   answer);
        }
        break;
      case pending_op::kind::credit:
        if ((delivered = op.credited->has_value())) {
          const auto& answer = **op.credited;
          code = answer.ok() ? error_code::none : answer.error().code;
          checker_.on_credit_reply(db, users_[op.user], op.key, op.body, op.committed_when_sent,
                                   answer);
        }
        break;
      case pending_op::kind::balance:
        if ((delivered = op.read->has_value())) {
          const auto& answer = **op.read;
          code = answer.ok() ? error_code::none : answer.error().code;
          checker_.on_balance_reply(users_[op.user], answer);
        }
        break;
      case pending_op::kind::ledger:
        if ((delivered = op.page->has_value())) {
          const auto& answer = **op.page;
          code = answer.ok() ? error_code::none : answer.error().code;
          checker_.on_ledger_reply(users_[op.user], answer);
        }
        break;
      case pending_op::kind::unknown_user:
        if ((delivered = op.charged->has_value())) {
          const auto& answer = **op.charged;
          code = answer.ok() ? error_code::none : answer.error().code;
          checker_.on_unknown_user_reply(code, answer.ok());
        }
        break;
      default:
        collect_auth_reply(op, delivered, code);
        break;
    }
    if (delivered) {
      hash_.add(7);
      hash_.add(static_cast<uint64_t>(code));
      if (settings_.trace)
        trace("reply to "
              + (op.what >= pending_op::kind::link_request
                   ? "auth command " + std::to_string(static_cast<int>(op.what))
                   : op.key.empty() ? std::string("read") : op.body.digest() + " key " + op.key)
              + ": "
              + (code == error_code::none ? std::string("ok") : tally::to_string(code)));
    } else {
      if (kept != i) outstanding_[kept] = std::move(op);
      ++kept;
    }
  }
  outstanding_.resize(kept);
}

void simulation::after_step() {
  collect_replies();
  if (tenants_) tenants_->after_step();
  checker_.compare_with_store(*fx_->db, fx_->health.backlog_records.load());
  if (failed() && report_.failed_step == 0) report_.failed_step = step_;
}

bool simulation::quiesce() {
  for (size_t i = 0; i < settings_.quiesce_steps_max && !failed(); ++i) {
    ++step_;
    if (!run_random_job()) {
      if (outstanding_.empty() && fx_->health.backlog_records.load() == 0
          && !(tenants_ && tenants_->waiting()))
        return true;
      trace("quiesce: advance time");
      fx_->sched.advance_time(quiesce_tick);
    }
    after_step();
  }
  if (failed()) return false;
  if (!outstanding_.empty() || fx_->health.backlog_records.load() != 0
      || (tenants_ && tenants_->waiting())) {
    report_.failed_step = step_;
    report_.violation = std::to_string(outstanding_.size()) + " replies never delivered, backlog "
                        + std::to_string(fx_->health.backlog_records.load())
                        + " after quiescence (a hang)";
    return false;
  }
  return true;
}

void simulation::final_probes() {
  // After healing, every user must take a grant and then show exactly the
  // store's balance: nothing may stay stuck, retired or ahead of the store.
  // One user at a time: the smallest backlog bound holds two writes.
  for (size_t user = 0; user < users_.size(); ++user) {
    op_body body{op_kind::credit, 1, "probe-" + std::to_string(++next_op_)};
    auto key = "probe-" + std::to_string(next_op_);
    test::credit_slot granted;
    // A live actor whose entity another owner took (epoch bump) learns it on
    // its first write, answers 503 and reloads: a client's retry with the
    // same key must then succeed.
    for (size_t attempt = 0; attempt < probe_attempts_max; ++attempt) {
      send_mutation(user, key, body);
      granted = outstanding_.back().credited;
      if (!quiesce()) return;
      if (granted->has_value() && (*granted)->ok()) break;
    }
    if (!(granted->has_value() && (*granted)->ok())) {
      report_.failed_step = step_;
      report_.violation = "after healing, a grant to user " + std::to_string(user) + " answered "
                          + (granted->has_value() ? describe((*granted)->error()) : "nothing");
      return;
    }
    send_read(user, false);
    auto read = outstanding_.back().read;
    if (!quiesce()) return;
    auto stored = fx_->db->committed_balance(users_[user]);
    if (!(read->has_value() && (*read)->ok() && stored && (*read)->value() == *stored)) {
      report_.failed_step = step_;
      report_.violation = "after quiescence, the balance read of user " + std::to_string(user)
                          + " differs from the store";
      return;
    }
  }
  checker_.final_checks(*fx_->db, fx_->health.backlog_records.load());
  auth_checker_.final_checks(*fx_->db);
  if (failed() && report_.failed_step == 0) report_.failed_step = step_;
}

void simulation::final_auth_round() {
  // Healed and quiet: each of a few login sessions is refreshed, read,
  // then (by the seed's dice) presented an old token after the grace
  // window and/or logged out, and read again. The auth checker judges every
  // answer; revocations acknowledged here must hold for the read after them.
  auto sessions = std::min(auth_checker_.session_count(), final_auth_sessions_max);
  for (size_t session = 0; session < sessions && !failed(); ++session) {
    send_session_command(session, pending_op::kind::refresh);
    if (!quiesce()) return;
    send_session_command(session, pending_op::kind::session_read);
    if (!quiesce()) return;
    if (session_tokens_[session].size() > 1 && rng_() % 2 == 0) {
      fx_->sched.advance_time(fx_->context.auth.refresh_grace + std::chrono::seconds(1));
      pending_op op;
      op.what = pending_op::kind::refresh;
      op.session = session;
      op.sent_at = step_;
      op.token = session_tokens_[session].front();
      op.grant = fx_->refresh(front_door_, op.token);
      auth_checker_.on_sent(session, true);
      trace("refresh session " + std::to_string(session) + " with its first token");
      outstanding_.push_back(std::move(op));
      if (!quiesce()) return;
    }
    if (rng_() % 2 == 0) {
      send_session_command(session, pending_op::kind::logout);
      if (!quiesce()) return;
    }
    send_session_command(session, pending_op::kind::session_read);
    if (!quiesce()) return;
  }
  auth_checker_.final_checks(*fx_->db);
  if (failed() && report_.failed_step == 0) report_.failed_step = step_;
}

seed_report simulation::run() {
  try {
    build_world();
    for (step_ = 1; step_ <= settings_.steps_per_seed && !failed(); ++step_) {
      random_step();
      after_step();
    }
    if (!failed()) {
      --step_;
      heal();
      trace("heal: store reachable, failures cleared, stalls over");
      if (quiesce()) final_probes();
      if (!failed() && auth_) final_auth_round();
      if (!failed() && tenants_) tenants_->final_checks([this] { return quiesce(); });
    }
  } catch (const std::exception& e) {
    report_.failed_step = step_;
    report_.violation = std::string("exception: ") + e.what();
  }
  if (failed())
    report_.violation = !checker_.ok()        ? *checker_.violation()
                        : !auth_checker_.ok() ? *auth_checker_.violation()
                                              : *tenants_->violation();
  report_.passed = report_.violation.empty();
  report_.steps = step_;
  report_.trace_hash = hash_.value;
  report_.counters = checker_.stats();
  report_.auth_counters = auth_checker_.stats();
  if (fx_) {
    report_.commits = fx_->db->commits();
    report_.activations = fx_->db->activations();
    // Nothing may call into the checker while the fixture shuts down.
    fx_->db->observe_commits(nullptr);
    fx_.reset();
  }
  return report_;
}

} // namespace

seed_report run_seed(uint64_t seed, const sim_settings& settings) {
  simulation sim{seed, settings};
  return sim.run();
}

std::string to_string(const seed_report& report) {
  if (report.passed) return "seed " + std::to_string(report.seed) + " passed";
  return "seed " + std::to_string(report.seed) + " failed at step "
         + std::to_string(report.failed_step) + ": " + report.violation + " [" + report.world + "]";
}

} // namespace tally::sim
