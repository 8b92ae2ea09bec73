#pragma once
// Shared set-up for actor tests on CAF's deterministic scheduler: a
// simulated store, real or fake writer/registry, and helpers that inject
// commands and capture their replies. Nothing here sleeps; time is virtual.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tests/actors/caf_test_bridge.hpp"

#include "caf/all.hpp"

#include "actors/dispatch.hpp"
#include "actors/identity.hpp"
#include "actors/ip_limiter.hpp"
#include "actors/login_gate.hpp"
#include "actors/registry.hpp"
#include "actors/user.hpp"
#include "persistence/reader.hpp"
#include "persistence/writer.hpp"
#include "protocols/metrics.hpp"
#include "protocols/store_health.hpp"
#include "tests/sim/simulated_store.hpp"

namespace tally::test {

struct tally_test_config : caf::actor_system_config {
  tally_test_config() { register_caf_types(*this); }
};

/// What must outlive the actor system: a base declared before the CAF
/// fixture, so it is destroyed after it.
struct world {
  std::shared_ptr<sim::simulated_database> db = std::make_shared<sim::simulated_database>();
  metrics process_metrics;
  store_health health;
  entity_context context;
};

/// Wall time at virtual time zero (2100-01-01): the fixture's clock is this
/// plus the deterministic scheduler's virtual time (so expiry and back-off
/// follow advance_time, and a run replays exactly). Far in the future on
/// purpose: the writer's expiry sweep uses the real clock, which must never
/// find a test's rows expired.
constexpr timestamp_us virtual_epoch_us = 4'102'444'800'000'000;

/// A reply's outcome once delivered (empty until then).
template <class T>
using slot = std::shared_ptr<std::optional<outcome<T>>>;

template <class T>
std::pair<reply<T>, slot<T>> capture() {
  auto result = std::make_shared<std::optional<outcome<T>>>();
  reply<T> done{[result](outcome<T> value) { result->emplace(std::move(value)); }};
  return {std::move(done), result};
}

using charge_slot = slot<mutation_reply<charge_result>>;
using credit_slot = slot<mutation_reply<credit_result>>;
using balance_slot = slot<balance>;
using ledger_slot = slot<ledger_page>;
using challenge_slot = slot<login_challenge>;
using grant_slot = slot<session_grant>;
using me_slot = slot<me_view>;
using logout_slot = slot<bool>;

/// What the fake writer and fake registry were sent.
struct recording {
  std::vector<entity_write> writes;
  /// (user, activation, handled) of every idle request.
  std::vector<std::tuple<uuid, uint64_t, uint64_t>> idles;
  size_t synced = 0;
  /// Users an identity asked the (fake) registry to open a session for.
  std::vector<uuid> sessions_opened;
};

/// Records writes; commits nothing unless the test says so.
writer_actor::behavior_type fake_writer(writer_actor::pointer self, std::shared_ptr<recording> seen);
/// Records idle/synced; never passivates.
registry_actor::behavior_type fake_registry(registry_actor::pointer self,
                                            std::shared_ptr<recording> seen);

struct actor_fixture : world, test_coordinator_fixture<tally_test_config> {
  actor_fixture();
  /// Stops every actor the helpers spawned, so no timer re-arms forever.
  ~actor_fixture() override;

  // -- spawning ----------------------------------------------------------------

  writer_actor spawn_writer(writer_settings settings = {});
  writer_actor spawn_fake_writer();
  reader_actor spawn_reader();
  registry_actor spawn_registry(std::vector<reader_actor> readers);
  registry_actor spawn_fake_registry();
  /// Spawns a user actor; commands sent to it with the helpers below use the
  /// user's default session (session_of).
  user_actor spawn_user(const uuid& id, registry_actor registry, reader_actor reader);
  identity_actor spawn_identity(const uuid& id, registry_actor registry, reader_actor reader);
  /// `shards` per-IP limiter shards, each with `limit` per IP.
  std::vector<ip_limiter_actor> spawn_ip_limiters(size_t shards, rate_limit limit);
  /// The login gate in front of `registry` (login_gate.hpp).
  login_gate_actor spawn_login_gate(registry_actor registry, std::vector<reader_actor> readers,
                                    anonymous_limiters limiters);

  /// A user in the simulated store.
  uuid new_user(balance initial = {});

  /// The user's default session: created in the store on first use (a
  /// random, unknown one if the user does not exist there).
  uuid session_of(const uuid& user);
  caller caller_of(const uuid& user) { return caller{user, session_of(user)}; }
  /// Virtual wall time (virtual_epoch_us + virtual time).
  timestamp_us virtual_now() const;

  // -- commands (an empty key means a fresh unique one) ------------------------

  charge_slot charge(const user_actor& user, int64_t amount, std::string key = {},
                     std::string digest = "digest");
  charge_slot charge(const registry_actor& registry, const uuid& user, int64_t amount,
                     std::string key = {}, std::string digest = "digest");
  credit_slot credit(const user_actor& user, int64_t amount, std::string key = {},
                     std::string digest = "digest");
  credit_slot credit(const registry_actor& registry, const uuid& user, int64_t amount,
                     std::string key = {}, std::string digest = "digest");
  balance_slot get_balance(const user_actor& user);
  balance_slot get_balance(const registry_actor& registry, const uuid& user);
  ledger_slot get_ledger(const registry_actor& registry, const uuid& user, ledger_query query = {});

  // -- auth commands (through a registry) ------------------------------------------

  challenge_slot request_link(const registry_actor& registry, const std::string& email,
                              request_origin origin = {"req", "10.0.0.1"});
  grant_slot verify_link(const registry_actor& registry, const std::string& token,
                         request_origin origin = {"req", "10.0.0.1"});
  challenge_slot request_code(const registry_actor& registry, const std::string& phone,
                              request_origin origin = {"req", "10.0.0.1"});
  grant_slot verify_code(const registry_actor& registry, const std::string& phone,
                         const std::string& code, request_origin origin = {"req", "10.0.0.1"});
  grant_slot refresh(const registry_actor& registry, const std::string& token,
                     request_origin origin = {"req", "10.0.0.1"});
  me_slot me(const registry_actor& registry, const caller& who);
  logout_slot logout(const registry_actor& registry, const caller& who,
                     request_origin origin = {"req", "10.0.0.1"});
  balance_slot get_balance(const registry_actor& registry, const caller& who);
  charge_slot charge(const registry_actor& registry, const caller& who, int64_t amount,
                     std::string key = {});

  // -- running -------------------------------------------------------------------

  /// Runs every queued message (no timers).
  void run_jobs() { sched.run(); }
  /// Runs only `whom` until its mailbox is empty.
  template <class Handle>
  void run_only(const Handle& whom) {
    while (sched.prioritize(whom)) sched.run_once();
  }
  /// Runs one message of `whom`; false if it had none.
  template <class Handle>
  bool run_one(const Handle& whom) {
    if (!sched.prioritize(whom)) return false;
    sched.run_once();
    return true;
  }
  /// Moves virtual time on, fires what is due, then runs every message.
  void advance(caf::timespan how_long) {
    advance_time(how_long);
    run_jobs();
  }

  std::shared_ptr<recording> seen = std::make_shared<recording>();
  std::vector<caf::actor> spawned;
  /// Default sessions, by user; and the user behind each spawned user actor.
  std::map<uuid, uuid> sessions;
  std::map<caf::actor_addr, uuid> user_of_actor;
  std::vector<registry_actor> registries;
  size_t next_key = 0;

private:
  std::string key_or_fresh(std::string key);
  uuid session_of(const user_actor& user);
};

/// The value of a delivered, successful outcome (fails the test otherwise).
template <class T>
const T& ok_value(const slot<T>& result) {
  REQUIRE(result->has_value());
  INFO("error: " << to_string((*result)->ok() ? error_code::none : (*result)->error().code));
  REQUIRE((*result)->ok());
  return (*result)->value();
}

/// The error code of a delivered failure (none if it succeeded).
template <class T>
error_code error_of(const slot<T>& result) {
  REQUIRE(result->has_value());
  return (*result)->ok() ? error_code::none : (*result)->error().code;
}

} // namespace tally::test
