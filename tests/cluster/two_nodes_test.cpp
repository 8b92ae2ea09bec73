// Two nodes in one process (tests/cluster/two_nodes_test.cpp): each a real
// runtime (registry, entities, writer, readers) over ONE SQLite file, its
// own cluster_forwarder and its own internal listener on a loopback port.
// A fixed shard table stands in for the lease keeper: node 0 serves the even
// shards, node 1 the odd ones, and a test may move a shard in one node's
// view to make that view stale. Everything crosses real HTTP + msgpack.
#include <catch2/catch.hpp>


#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <optional>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"

#include "actors/runtime.hpp"
#include "http/cluster_forwarder.hpp"
#include "http/internal_server.hpp"
#include "persistence/store.hpp"
#include "protocols/arriving_commands.hpp"
#include "protocols/auth_tokens.hpp"
#include "protocols/caf_types.hpp"
#include "protocols/cluster_wire.hpp"
#include "protocols/forwarding_metrics.hpp"
#include "protocols/gateway.hpp"
#include "protocols/log.hpp"
#include "protocols/metrics.hpp"
#include "tests/http/loopback_sockets.hpp"
#include "tests/persistence/store_test_support.hpp"
#include "protocols/secrets.hpp"
#include "tests/actors/threaded_waiter.hpp"

using namespace tally;
using namespace std::chrono_literals;
using test::dead_port;
using test::frozen_listener;

namespace {

/// The forwarders' deadline in this test, and their wait for a new owner
/// after a 421.
constexpr auto forward_timeout = std::chrono::milliseconds(1'500);
constexpr auto misdirected_wait = std::chrono::milliseconds(1'000);
const std::string jwt_secret = "two nodes share this secret";

using test::waiter;
constexpr auto reply_wait_max = test::threaded_reply_wait_max;

/// One node's view of who serves which shard (the lease keeper's stand-in).
/// Owner 0 and 1 are the two nodes; 2 is a node that is not there.
class split_directory final : public shard_directory {
public:
  explicit split_directory(int me) : me_(me) {
    for (int s = 0; s < shard_count; ++s) owner_[s] = s % 2;
  }
  bool serves(int shard) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    return owner_[shard] == me_;
  }
  shard_route route(int shard) const override {
    std::lock_guard<std::mutex> lock(mutex_);
    int o = owner_[shard];
    if (o < 0) return {};
    if (o == me_) return {shard_place::local, "node" + std::to_string(o), addresses_[o]};
    return {shard_place::remote, "node" + std::to_string(o), addresses_[o]};
  }
  void refresh_soon() override {
    ++refreshes;
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      hook = on_refresh_;
    }
    if (hook) hook();
  }

  void set_owner(int shard, int node) {
    std::lock_guard<std::mutex> lock(mutex_);
    owner_[shard] = node;
  }
  int owner(int shard) const {
    std::lock_guard<std::mutex> lock(mutex_);
    return owner_[shard];
  }
  void set_address(int node, std::string address) {
    std::lock_guard<std::mutex> lock(mutex_);
    addresses_[node] = std::move(address);
  }
  /// "The map changed": what the next refresh_soon() does.
  void on_refresh(std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(mutex_);
    on_refresh_ = std::move(hook);
  }

  std::atomic<int> refreshes{0};

private:
  const int me_;
  mutable std::mutex mutex_;
  std::array<int, shard_count> owner_{};
  std::array<std::string, 3> addresses_;
  std::function<void()> on_refresh_;
};



struct node {
  node(int index, caf::actor_system& system, const std::string& db_url)
    : directory(index), stats(process_metrics) {
    forwarding_config forwarding;
    forwarding.timeout = forward_timeout;
    forwarding.connect_timeout = 500ms;
    forwarding.misdirected_retry_wait = misdirected_wait;
    forwarder = std::make_unique<cluster_forwarder>(forwarding, directory, cluster_auth_key(jwt_secret), &stats);
    runtime_config settings;
    settings.auth.dev = true;
    settings.auth.code_pepper = "two nodes pepper";
    settings.reader_count = 1;
    settings.shards = &directory;
    settings.remote = forwarder.get();
    actors = std::make_unique<runtime>(system, settings, [db_url] { return open_store(db_url); }, process_metrics);
    internal_listener_config listening;
    listening.port = 0;
    listener = std::make_unique<internal_server>(listening, cluster_auth_key(jwt_secret), actors->arrivals(), &stats);
    listener->start();
  }

  ~node() { stop(); }

  void stop() {
    if (!listener) return;
    listener->stop(1s);
    forwarder->stop();
    actors->shutdown(5s);
    listener.reset();
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(listener->port()); }
  gateway& gate() { return actors->gate(); }
  double users_active() { return process_metrics.active_actors.Add({{"kind", "user"}}).Value(); }

  metrics process_metrics;
  split_directory directory;
  forwarding_metrics stats;
  std::unique_ptr<cluster_forwarder> forwarder;
  std::unique_ptr<runtime> actors;
  std::unique_ptr<internal_server> listener;
};

/// The store both nodes share: a SQLite file, or with
/// TALLY_TWO_NODES_STORE=postgres a scratch schema on TALLY_TEST_PG_URL
/// (ctest runs both; without a server the Postgres run skips).
struct shared_store {
  test::temp_dir folder;
  std::optional<test::postgres_schema> schema;
  std::string db_url;
  bool ready = true;

  shared_store() {
    const char* which = std::getenv("TALLY_TWO_NODES_STORE");
    if (which == nullptr || std::string(which) != "postgres") {
      db_url = "sqlite:" + (folder.path / "two-nodes.db").string();
      return;
    }
    auto server = test::postgres_test_url();
    if (!server) {
      WARN("TALLY_TEST_PG_URL is not set: the Postgres run of the two-node test is skipped");
      ready = false;
      return;
    }
    schema.emplace(*server);
    db_url = schema->url;
  }
};

struct two_nodes : shared_store {
  test::threaded_system_config config;
  caf::actor_system system{config};
  std::unique_ptr<node> nodes[2];
  const request_origin origin{"req-two-nodes", "127.0.0.1"};
  /// Users created by login(), wherever they live.
  std::vector<uuid> logged_in;

  /// Users whose shard node `n` serves (each was activated by its login).
  double users_owned_by(int n) const {
    return static_cast<double>(std::count_if(logged_in.begin(), logged_in.end(),
                                             [&](const uuid& id) { return owner_of(id) == n; }));
  }

  two_nodes() {
    set_log_level(log_level::error);  // expected warnings (unreachable peers) would drown the report
    if (!ready) return;
    open_store(db_url)->migrate();
    nodes[0] = std::make_unique<node>(0, system, db_url);
    nodes[1] = std::make_unique<node>(1, system, db_url);
    for (auto& n : nodes) {
      n->directory.set_address(0, nodes[0]->address());
      n->directory.set_address(1, nodes[1]->address());
    }
  }

  ~two_nodes() {
    for (auto& n : nodes)
      if (n) n->stop();
  }

  int owner_of(const uuid& key) const { return shard_of(key) % 2; }

  /// A first login: the link requested through node `asked`, verified
  /// through the other node; the identity creates the user.
  session_grant login(const std::string& email, int asked) {
    waiter<login_challenge> challenge;
    nodes[asked]->gate().request_magic_link(email, origin, challenge.make());
    auto issued = challenge.get();
    REQUIRE(issued.ok());
    waiter<session_grant> granted;
    nodes[1 - asked]->gate().verify_magic_link(issued.value().debug_secret, origin, granted.make());
    auto grant = granted.get();
    REQUIRE(grant.ok());
    logged_in.push_back(grant.value().user.id);
    return grant.value();
  }

  /// A logged-in user whose identity and user entities live on different
  /// nodes: the identity -> user command crossed nodes.
  caller crossing_user() {
    for (int attempt = 0; attempt < 40; ++attempt) {
      auto email = "crossing" + std::to_string(attempt) + "-" + to_hex(random_bytes(3)) + "@example.com";
      auto grant = login(email, attempt % 2);
      if (owner_of(grant.user.id) != owner_of(identity_id(identity_kind::email, email)))
        return caller{grant.user.id, grant.session};
    }
    FAIL("40 logins never put the user on the other node than its identity");
    return {};
  }

  mutation_reply<credit_result> grant(const uuid& user, int64_t amount, int via) {
    waiter<mutation_reply<credit_result>> granted;
    nodes[via]->gate().credit(user, credit_command{amount, "grant", {"grant-" + to_hex(random_bytes(4)), "d"}},
                              granted.make());
    auto result = granted.get();
    REQUIRE(result.ok());
    return result.value();
  }

  outcome<balance> balance_of(const caller& who, int via) {
    waiter<balance> answered;
    nodes[via]->gate().get_balance(who, answered.make());
    return answered.get();
  }
};

} // namespace

TEST_CASE_METHOD(two_nodes, "a login whose user lives on the other node crosses once, and its session works everywhere") {
  if (!ready) return;
  auto who = crossing_user();
  int owner = owner_of(who.user);
  // Every user entity was activated on its owner only: the other node
  // forwarded each open_session, and the balance reads below.
  for (int via : {0, 1}) {
    auto seen = balance_of(who, via);
    REQUIRE(seen.ok());
    CHECK(seen.value() == balance{0, 0});
  }
  for (int n : {0, 1}) CHECK(nodes[n]->users_active() == users_owned_by(n));
  CHECK(nodes[1 - owner]->stats.counted(forward_result::ok) >= 1);
}

TEST_CASE_METHOD(two_nodes, "a remote key's command is served by its owner and its success or domain failure comes back") {
  if (!ready) return;
  auto who = crossing_user();
  int other = 1 - owner_of(who.user);
  auto before = nodes[other]->stats.counted(forward_result::ok);
  CHECK(grant(who.user, 100, other).result.available == 100);

  waiter<mutation_reply<charge_result>> too_much;
  nodes[other]->gate().charge(who, charge_command{1000, "", {"too-much", "d"}}, too_much.make());
  auto refused = too_much.get();
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == error_code::insufficient_credits);

  waiter<mutation_reply<credit_result>> nobody;
  auto stranger = random_uuid();
  while (owner_of(stranger) == other) stranger = random_uuid();
  nodes[other]->gate().credit(stranger, credit_command{5, "grant", {"k", "d"}}, nobody.make());
  CHECK(nobody.get().error().code == error_code::user_not_found);

  CHECK(nodes[other]->stats.counted(forward_result::ok) == before + 3);
  CHECK(nodes[other]->users_active() == users_owned_by(other));
  CHECK(balance_of(who, owner_of(who.user)).value() == balance{100, 0});
}

TEST_CASE_METHOD(two_nodes, "a stale map: 421, refresh, one retry that reaches the new owner") {
  if (!ready) return;
  auto who = crossing_user();
  int owner = owner_of(who.user);
  int other = 1 - owner;
  int shard = shard_of(who.user);
  // The owner has just lost the shard in its own view; the sender's map
  // still names it. Its refresh "moves the lease back" (the map changed).
  nodes[owner]->directory.set_owner(shard, other);
  nodes[other]->directory.on_refresh([&] { nodes[owner]->directory.set_owner(shard, owner); });
  auto owner_forwards = nodes[owner]->stats.counted(forward_result::ok);

  auto started = std::chrono::steady_clock::now();
  auto seen = balance_of(who, other);
  REQUIRE(seen.ok());
  // The sender's own map named the same owner: it retried after the wait.
  CHECK(std::chrono::steady_clock::now() - started >= misdirected_wait - 50ms);
  CHECK(nodes[other]->directory.refreshes == 1);
  CHECK(nodes[other]->stats.counted(forward_result::misdirected) == 1);
  CHECK(nodes[other]->stats.counted(forward_result::ok) >= 1);
  CHECK(nodes[owner]->stats.misdirected.Value() == 1);
  // The arrival was refused, not sent back: the owner forwarded nothing.
  CHECK(nodes[owner]->stats.counted(forward_result::ok) == owner_forwards);

  // Still stale after the refresh: the one retry is refused too, and the
  // caller hears 503 SHARD_UNAVAILABLE with Retry-After, not a loop.
  nodes[other]->directory.on_refresh(nullptr);
  nodes[owner]->directory.set_owner(shard, other);
  auto again = balance_of(who, other);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code == error_code::shard_unavailable);
  CHECK(again.error().retry_after_s >= 1);
  CHECK(nodes[other]->directory.refreshes == 3);
  CHECK(nodes[owner]->stats.misdirected.Value() == 3);

  // The refresh gives the sender a new address for the owner: the retry
  // goes out as soon as the map changed, not after the wait.
  nodes[other]->directory.on_refresh([&] {
    nodes[owner]->directory.set_owner(shard, owner);
    nodes[other]->directory.set_address(owner, "localhost:" + std::to_string(nodes[owner]->listener->port()));
  });
  started = std::chrono::steady_clock::now();
  auto moved = balance_of(who, other);
  REQUIRE(moved.ok());
  CHECK(std::chrono::steady_clock::now() - started < misdirected_wait - 300ms);
  CHECK(nodes[owner]->stats.misdirected.Value() == 4);
}

TEST_CASE_METHOD(two_nodes, "an unreachable or frozen owner gives shard_unavailable within the deadline") {
  if (!ready) return;
  auto key = random_uuid();
  int shard = shard_of(key);
  auto& sender = *nodes[0];
  sender.directory.set_owner(shard, 2);

  sender.directory.set_address(2, "127.0.0.1:" + std::to_string(dead_port()));
  auto started = std::chrono::steady_clock::now();
  waiter<mutation_reply<credit_result>> refused;
  sender.gate().credit(key, credit_command{1, "grant", {"k", "d"}}, refused.make());
  auto answer = refused.get();
  CHECK(answer.error().code == error_code::shard_unavailable);
  CHECK(answer.error().retry_after_s >= 1);
  CHECK(std::chrono::steady_clock::now() - started < forward_timeout);
  CHECK(sender.stats.counted(forward_result::unavailable) == 1);

  frozen_listener frozen;
  sender.directory.set_address(2, "127.0.0.1:" + std::to_string(frozen.port));
  started = std::chrono::steady_clock::now();
  waiter<mutation_reply<credit_result>> stuck;
  sender.gate().credit(key, credit_command{1, "grant", {"k2", "d"}}, stuck.make());
  auto timed_out = stuck.get();
  auto waited = std::chrono::steady_clock::now() - started;
  CHECK(timed_out.error().code == error_code::shard_unavailable);
  CHECK(waited >= forward_timeout - 50ms);
  CHECK(waited < forward_timeout + 1s);
  CHECK(sender.stats.counted(forward_result::timeout) == 1);

  // Nobody holds the shard: refused at once, without a network call.
  sender.directory.set_owner(shard, -1);
  waiter<mutation_reply<credit_result>> orphan;
  sender.gate().credit(key, credit_command{1, "grant", {"k3", "d"}}, orphan.make());
  CHECK(orphan.get().error().code == error_code::shard_unavailable);
  CHECK(sender.stats.counted(forward_result::unavailable) == 1);
}

TEST_CASE_METHOD(two_nodes, "concurrent charges through both nodes with idempotency keys: none lost, none applied twice") {
  if (!ready) return;
  auto who = crossing_user();
  grant(who.user, 100, 0);
  constexpr int keys = 40;
  constexpr int threads_per_node = 4;
  constexpr int threads = 2 * threads_per_node;
  // Every key is sent twice at once: once through each node.
  using charge_outcome = outcome<mutation_reply<charge_result>>;
  std::vector<std::vector<std::pair<int, charge_outcome>>> seen(threads);
  std::atomic<int> ready{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      int via = t % 2;
      std::vector<std::pair<int, waiter<mutation_reply<charge_result>>>> pending;
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();  // barrier: all start together
      for (int k = t / 2; k < keys; k += threads_per_node) {
        pending.emplace_back(k, waiter<mutation_reply<charge_result>>{});
        nodes[via]->gate().charge(who, charge_command{1, "concurrent", {"key-" + std::to_string(k), "d"}},
                                  pending.back().second.make());
      }
      for (auto& [k, w] : pending) {
        REQUIRE(w.future.wait_for(reply_wait_max) == std::future_status::ready);
        seen[t].emplace_back(k, w.future.get());
      }
    });
  }
  for (auto& w : workers) w.join();

  std::map<int, std::set<std::string>> ids_by_key;
  int answered = 0;
  for (auto& per_thread : seen)
    for (auto& [k, result] : per_thread) {
      ++answered;
      if (result.ok()) {
        ids_by_key[k].insert(to_string(result.value().result.id));
      } else {
        // Only the honest refusals of a duplicate still in flight or of a full window.
        CHECK((result.error().code == error_code::idempotency_key_in_use ||
               result.error().code == error_code::overloaded));
      }
    }
  CHECK(answered == 2 * keys);
  for (auto& [k, ids] : ids_by_key) CHECK(ids.size() == 1);  // a replay names the same charge

  waiter<ledger_page> page;
  nodes[1 - owner_of(who.user)]->gate().get_ledger(who, ledger_query{200, std::nullopt, std::nullopt}, page.make());
  auto ledger = page.get();
  REQUIRE(ledger.ok());
  int64_t charged = 0;
  std::set<std::string> references;
  for (const auto& entry : ledger.value().entries)
    if (entry.type == ledger_type::charge) {
      charged += entry.amount;
      CHECK(references.insert(entry.reference).second);  // no charge applied twice
    }
  CHECK(references.size() == ids_by_key.size());
  auto now = balance_of(who, 0);
  REQUIRE(now.ok());
  CHECK(now.value().available == 100 - charged);
  CHECK(balance_of(who, 1).value() == now.value());
}

TEST_CASE_METHOD(two_nodes, "a login gate does not remember an identity as unknown when its request passed another node") {
  if (!ready) return;
  const std::string phone = "+1555" + std::to_string(1000000 + std::rand() % 8000000);
  // A verify before any request: refused at node 0's gate (no identity row).
  waiter<session_grant> early;
  nodes[0]->gate().verify_code(phone, "000000", origin, early.make());
  CHECK(early.get().error().code == error_code::invalid_code);
  // The code is requested through node 1: node 0's gate never sees it.
  waiter<login_challenge> challenge;
  nodes[1]->gate().request_code(phone, origin, challenge.make());
  auto issued = challenge.get();
  REQUIRE(issued.ok());
  waiter<session_grant> granted;
  nodes[0]->gate().verify_code(phone, issued.value().debug_secret, origin, granted.make());
  auto grant = granted.get();
  REQUIRE(grant.ok());
  CHECK(grant.value().user.phone == phone);
}
