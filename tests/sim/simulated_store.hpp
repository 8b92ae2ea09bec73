#pragma once
// SIMULATION DOUBLE — not a store implementation for production.
//
// An in-memory `tally::store` for actor and simulation tests: the same
// contract as the SQLite/Postgres stores (atomic batches, owner-epoch
// fencing of balances and identities, unique ledger seq/id, idempotency
// keys, user ids/emails/phones and refresh-token hashes, CHECK available >= 0,
// upserts of magic links, codes and sessions),
// plus failure injection, a way to inspect what was committed, and a commit
// observer through which the simulation checks every batch. Any number
// of simulated_store "connections" share one simulated_database; all calls
// are thread-safe.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "persistence/store.hpp"
#include "protocols/tenants.hpp"
#include "tests/sim/simulated_tenants.hpp"

namespace tally::sim {

class simulated_database {
public:
  // -- set-up ----------------------------------------------------------------

  /// Inserts a user with the given committed balance (no ledger entries).
  void add_user(const uuid& id, balance initial = {});
  /// Inserts a user with a profile (email/phone for identity linking).
  void add_user(const user_row& row, balance initial = {});

  // -- failure injection -------------------------------------------------------

  /// The next `count` commit calls throw store_error(fault) without applying.
  void fail_next_commits(size_t count, store_fault fault);
  /// While false, every call (and opening a connection) throws transient.
  void set_reachable(bool reachable);
  /// Every commit whose batch touches `user` throws store_error(fault).
  void fail_commits_touching(const uuid& user, store_fault fault);
  /// Undoes fail_commits_touching.
  void clear_commit_failures();
  /// The next `count` user activations and idempotency lookups (store
  /// calls, single or batched) throw store_error(fault) without applying.
  void fail_next_reads(size_t count, store_fault fault);
  /// Every activation or lookup call naming `user` throws store_error(fault)
  /// (a batched call fails as a whole, like a bad row in a real store).
  void fail_reads_touching(const uuid& user, store_fault fault);
  /// Undoes fail_next_reads and fail_reads_touching.
  void clear_read_failures();
  /// Moves a user's owner epoch on, as another node's activation would.
  void bump_epoch(const uuid& user);

  /// Deliberate store bugs, for proving that the simulation's checks fail
  /// when the store breaks its contract. Never set outside checker self-tests.
  enum class sabotage : uint8_t {
    none,            ///< the honest store
    forget_commits,  ///< commit() reports success but stores nothing (lost writes)
  };
  void set_sabotage(sabotage kind);

  // -- observation -------------------------------------------------------------

  /// Called (under the store's lock, on the committing thread) with every
  /// batch right after it was applied. It must not call back into the store.
  using commit_observer = std::function<void(const write_batch&)>;
  void observe_commits(commit_observer observer);

  // -- inspection ------------------------------------------------------------

  std::optional<balance> committed_balance(const uuid& user) const;
  int64_t owner_epoch(const uuid& user) const;
  int64_t ledger_seq(const uuid& user) const;
  /// Oldest first.
  std::vector<ledger_entry> ledger(const uuid& user) const;
  std::optional<idempotency_record> idempotency(const uuid& user, const std::string& key) const;
  size_t idempotency_count() const;
  /// Successful commits, and commit calls of any outcome.
  size_t commits() const;
  size_t commit_calls() const;
  /// Balance writes, ledger rows and idempotency rows of every successful commit.
  size_t balance_writes() const;
  size_t ledger_rows() const;
  /// Record counts of the successful batches, in commit order.
  std::vector<size_t> batch_sizes() const;
  /// Users activated (an epoch bump each).
  size_t activations() const;
  /// activate_user / activate_users calls of any outcome (store round trips).
  size_t activation_calls() const;
  /// find_idempotency / find_idempotency_many calls of any outcome.
  size_t lookup_calls() const;
  /// Probes asked by those calls.
  size_t lookup_probes() const;
  size_t sweeps() const;

  // -- inspection: auth ----------------------------------------------------------

  size_t user_count() const;
  /// Users whose email (or phone) is `value`.
  std::vector<user_row> users_with(identity_kind kind, const std::string& value) const;
  std::optional<user_row> user(const uuid& id) const;
  std::optional<identity_row> identity(const uuid& id) const;
  std::optional<login_code_row> login_code(const uuid& identity) const;
  std::optional<magic_link_row> magic_link(const std::string& token_hash) const;
  std::optional<session_row> session(const uuid& id) const;
  size_t refresh_token_count() const;
  std::vector<outbox_row> outbox() const;
  std::vector<audit_row> audit() const;

  // -- inspection: payment webhooks (simulated_webhooks.cpp) -------------------

  std::map<uuid, webhook_event_row> webhook_events() const;
  std::map<uuid, payment_row> payments() const;
  size_t identity_activations() const;
  /// find_session calls (loads of a session into a user actor).
  size_t session_reads() const;
  /// find_magic_link and find_refresh_token calls.
  size_t token_reads() const;

  // -- inspection: tenants ------------------------------------------------------

  /// A copy of the committed tenant tables.
  tenant_tables tenants() const;
  /// Inserts a tenant with its members (set-up, like add_user).
  void add_tenant(const tenant_row& row, const std::vector<tenant_member_row>& members);

  // -- the store contract (called through simulated_store) -------------------

  void check_reachable() const;
  void ping() const;
  void create_user(const user_row& user);
  std::optional<user_snapshot> activate_user(const uuid& user, size_t recent_max, timestamp_us since);
  ledger_page read_ledger(const uuid& user, const ledger_query& query) const;
  std::optional<idempotency_record> find_idempotency(const uuid& user, const std::string& key,
                                                     timestamp_us since);
  /// All or nothing, like one transaction.
  std::vector<std::optional<user_snapshot>> activate_users(const std::vector<activation_request>& requests);
  std::vector<std::optional<idempotency_record>> find_idempotency_many(
    const std::vector<idempotency_probe>& probes);
  void commit(const write_batch& batch);
  size_t delete_idempotency_before(timestamp_us before);
  identity_snapshot activate_identity(const uuid& identity, identity_kind kind,
                                      const std::string& value, timestamp_us now);
  std::vector<bool> known_identities(const std::vector<uuid>& ids);
  std::optional<magic_link_row> find_magic_link(const std::string& token_hash);
  std::optional<session_row> find_session(const uuid& user, const uuid& session);
  std::optional<refresh_token_row> find_refresh_token(const std::string& token_hash);
  void create_session(const session_row& session, const refresh_token_row& token);
  std::optional<webhook_event_row> find_webhook_event(const uuid& id);
  std::optional<payment_row> find_payment(const uuid& id);
  size_t delete_webhook_events_before(timestamp_us before);
  size_t delete_expired_auth(timestamp_us now);
  std::optional<tenant_snapshot> activate_tenant(const uuid& tenant);
  uuid find_subdomain_holder(const std::string& name);
  std::vector<membership_view> find_memberships(const uuid& user);

  // -- generations (simulated_generations.cpp) ---------------------------------

  std::vector<generation_row> find_active_generations(const std::vector<uuid>& users);
  std::optional<generation_row> find_generation(const uuid& user, const uuid& generation);
  generation_page read_generations(const uuid& user, const generation_query& query);
  std::vector<uuid> users_with_generations_due(timestamp_us due, size_t max);
  /// Every stored generation (inspection), by id.
  std::map<uuid, generation_row> generations() const;

private:
  struct user_record {
    user_row row;
    balance bal;
    int64_t ledger_seq = 0;
    int64_t owner_epoch = 0;
    std::map<int64_t, ledger_entry> ledger;  // by seq
    std::map<std::string, idempotency_record> keys;
    /// Insertion number of each key: "newest first" breaks created_at ties
    /// by it, so which keys an activation loads never depends on the wall
    /// clock's resolution (the simulation replays seeds exactly).
    std::map<std::string, uint64_t> key_inserted;
  };

  void check_reachable_locked() const;
  /// Counts one read call of `kind` and throws what the injection asks for.
  void check_read_locked(const std::vector<uuid>& users);
  std::optional<user_snapshot> activate_locked(const activation_request& request);
  std::optional<idempotency_record> find_locked(const idempotency_probe& probe) const;
  /// Validates the auth part of a batch (throws like commit); applied later.
  void check_auth_locked(const write_batch& batch) const;
  void apply_auth_locked(const write_batch& batch);
  /// Generations: unique (user, idempotency key), known users (throws like commit).
  void check_generations_locked(const write_batch& batch) const;
  void apply_generations_locked(const write_batch& batch);
  /// Payment webhooks: the payments primary key, then the monotone merge.
  void check_webhooks_locked(const write_batch& batch) const;
  void apply_webhooks_locked(const write_batch& batch);
  bool user_exists_locked(const uuid& id, const write_batch* batch) const;

  mutable std::mutex mutex_;
  std::map<uuid, user_record> users_;
  std::set<uuid> ledger_ids_;
  bool reachable_ = true;
  size_t fail_next_ = 0;
  store_fault fail_next_fault_ = store_fault::transient;
  std::map<uuid, store_fault> failing_users_;
  size_t commits_ = 0;
  size_t commit_calls_ = 0;
  size_t balance_writes_ = 0;
  size_t ledger_rows_ = 0;
  std::vector<size_t> batch_sizes_;
  size_t activations_ = 0;
  size_t activation_calls_ = 0;
  size_t lookup_calls_ = 0;
  size_t lookup_probes_ = 0;
  size_t fail_next_reads_ = 0;
  store_fault fail_next_reads_fault_ = store_fault::transient;
  std::map<uuid, store_fault> failing_read_users_;
  size_t sweeps_ = 0;
  uint64_t keys_inserted_ = 0;
  sabotage sabotage_ = sabotage::none;
  commit_observer observer_;

  std::map<uuid, identity_row> identities_;
  std::map<uuid, login_code_row> login_codes_;
  std::map<std::string, magic_link_row> magic_links_;
  std::map<uuid, session_row> sessions_;
  std::map<std::string, refresh_token_row> refresh_tokens_;
  std::vector<outbox_row> outbox_;
  std::vector<audit_row> audit_;
  std::map<uuid, generation_row> generations_;
  std::map<uuid, webhook_event_row> webhook_events_;
  std::map<uuid, payment_row> payments_;
  size_t identity_activations_ = 0;
  size_t session_reads_ = 0;
  size_t token_reads_ = 0;
  tenant_tables tenants_;
};

/// Cluster simulation: called with the keys of every activation before it
/// runs; throws store_error(fenced) when this connection's node does not
/// hold their shards' leases (fencing layer 1, persistence/shard_fence.hpp).
using activation_fence = std::function<void(const std::vector<uuid>&)>;

/// One "connection" to a simulated_database.
class simulated_store final : public store {
public:
  explicit simulated_store(std::shared_ptr<simulated_database> db) : db_(std::move(db)) {}
  simulated_store(std::shared_ptr<simulated_database> db, activation_fence fence)
    : db_(std::move(db)), fence_(std::move(fence)) {}

  void migrate() override {}
  void ping() override { db_->ping(); }
  void create_user(const user_row& user) override { db_->create_user(user); }
  std::optional<user_snapshot> activate_user(const uuid& user, size_t recent_idempotency_max,
                                             timestamp_us idempotency_since) override {
    fence({user});
    return db_->activate_user(user, recent_idempotency_max, idempotency_since);
  }
  ledger_page read_ledger(const uuid& user, const ledger_query& query) override {
    return db_->read_ledger(user, query);
  }
  std::optional<idempotency_record> find_idempotency(const uuid& user, const std::string& key,
                                                     timestamp_us since) override {
    return db_->find_idempotency(user, key, since);
  }
  std::vector<std::optional<idempotency_record>> find_idempotency_many(
    const std::vector<idempotency_probe>& probes) override {
    return db_->find_idempotency_many(probes);
  }
  std::vector<std::optional<user_snapshot>> activate_users(
    const std::vector<activation_request>& requests) override {
    std::vector<uuid> keys;
    for (const auto& request : requests) keys.push_back(request.user);
    fence(keys);
    return db_->activate_users(requests);
  }
  void commit(const write_batch& batch) override { db_->commit(batch); }
  size_t delete_idempotency_before(timestamp_us before) override {
    return db_->delete_idempotency_before(before);
  }
  identity_snapshot activate_identity(const uuid& identity, identity_kind kind,
                                      const std::string& value, timestamp_us now) override {
    fence({identity});
    return db_->activate_identity(identity, kind, value, now);
  }
  std::vector<bool> known_identities(const std::vector<uuid>& ids) override {
    return db_->known_identities(ids);
  }
  std::optional<magic_link_row> find_magic_link(const std::string& token_hash) override {
    return db_->find_magic_link(token_hash);
  }
  std::optional<session_row> find_session(const uuid& user, const uuid& session) override {
    return db_->find_session(user, session);
  }
  std::optional<refresh_token_row> find_refresh_token(const std::string& token_hash) override {
    return db_->find_refresh_token(token_hash);
  }
  void create_session(const session_row& session, const refresh_token_row& token) override {
    db_->create_session(session, token);
  }
  size_t delete_expired_auth(timestamp_us now) override { return db_->delete_expired_auth(now); }
  std::vector<generation_row> find_active_generations(const std::vector<uuid>& users) override {
    return db_->find_active_generations(users);
  }
  std::optional<generation_row> find_generation(const uuid& user, const uuid& generation) override {
    return db_->find_generation(user, generation);
  }
  generation_page read_generations(const uuid& user, const generation_query& query) override {
    return db_->read_generations(user, query);
  }
  std::vector<uuid> users_with_generations_due(timestamp_us due, size_t max) override {
    return db_->users_with_generations_due(due, max);
  }
  std::optional<tenant_snapshot> activate_tenant(const uuid& tenant) override {
    fence({tenant});
    return db_->activate_tenant(tenant);
  }
  uuid find_subdomain_holder(const std::string& name) override {
    fence({subdomain_key(name)});
    return db_->find_subdomain_holder(name);
  }
  std::vector<membership_view> find_memberships(const uuid& user) override {
    return db_->find_memberships(user);
  }
  std::optional<webhook_event_row> find_webhook_event(const uuid& id) override {
    fence({id});
    return db_->find_webhook_event(id);
  }
  std::optional<payment_row> find_payment(const uuid& id) override { return db_->find_payment(id); }
  size_t delete_webhook_events_before(timestamp_us before) override {
    return db_->delete_webhook_events_before(before);
  }

private:
  void fence(const std::vector<uuid>& keys) {
    if (fence_) fence_(keys);
  }

  std::shared_ptr<simulated_database> db_;
  activation_fence fence_;
};

/// A store factory over `db`; opening fails (transient) while unreachable.
std::function<std::unique_ptr<store>()> simulated_store_factory(std::shared_ptr<simulated_database> db);

/// The same, with every connection's activations fenced by `fence`.
std::function<std::unique_ptr<store>()> simulated_store_factory(std::shared_ptr<simulated_database> db,
                                                                activation_fence fence);

} // namespace tally::sim
