#pragma once
// The Postgres store (libpqxx 6.4): production and clusters. One connection
// per store object; a lost connection fails the call with a transient fault
// and is re-established lazily by the next call, so the writer's retries
// recover by themselves once Postgres is back.
#include <memory>
#include <string>

#include "persistence/lease_store.hpp"
#include "persistence/store.hpp"

namespace tally {

/// Server-side bound on every statement, so a lock wait or a sick server
/// turns into a transient fault instead of a writer stuck forever.
constexpr int postgres_statement_timeout_ms = 5000;

/// Bound on each migration transaction instead of the per-statement one: a
/// later migration may build an index on a big table, and a starter waits
/// on the migration lock while another node migrates.
constexpr int postgres_migration_timeout_ms = 10 * 60 * 1000;

/// Rows per array-parameter INSERT/UPDATE. Far above a normal batch (the
/// whole batch is one statement per table); it only bounds message size.
constexpr size_t postgres_rows_per_statement_max = 4096;

/// Key of the advisory lock that serialises migrations across nodes that
/// start at the same time ("tally" in ASCII).
constexpr int64_t postgres_migration_lock_key = 0x74616c6c79;

class postgres_store final : public store {
public:
  /// Connects to the libpq URI `url`. Throws store_error(transient) when the
  /// server cannot be reached.
  explicit postgres_store(std::string url, int statement_timeout_ms = postgres_statement_timeout_ms);
  ~postgres_store() override;
  postgres_store(const postgres_store&) = delete;
  postgres_store& operator=(const postgres_store&) = delete;

  void migrate() override;
  void ping() override;
  void create_user(const user_row& user) override;
  std::optional<user_snapshot> activate_user(const uuid& user, size_t recent_idempotency_max,
                                             timestamp_us idempotency_since) override;
  ledger_page read_ledger(const uuid& user, const ledger_query& query) override;
  std::optional<idempotency_record> find_idempotency(const uuid& user, const std::string& key,
                                                     timestamp_us since) override;
  std::vector<std::optional<idempotency_record>> find_idempotency_many(
    const std::vector<idempotency_probe>& probes) override;
  std::vector<std::optional<user_snapshot>> activate_users(
    const std::vector<activation_request>& requests) override;
  void commit(const write_batch& batch) override;
  size_t delete_idempotency_before(timestamp_us before) override;
  identity_snapshot activate_identity(const uuid& identity, identity_kind kind, const std::string& value,
                                      timestamp_us now) override;
  std::vector<bool> known_identities(const std::vector<uuid>& ids) override;
  std::optional<magic_link_row> find_magic_link(const std::string& token_hash) override;
  std::optional<session_row> find_session(const uuid& user, const uuid& session) override;
  std::optional<refresh_token_row> find_refresh_token(const std::string& token_hash) override;
  void create_session(const session_row& session, const refresh_token_row& token) override;
  size_t delete_expired_auth(timestamp_us now) override;
  std::vector<generation_row> find_active_generations(const std::vector<uuid>& users) override;
  std::optional<generation_row> find_generation(const uuid& user, const uuid& generation) override;
  generation_page read_generations(const uuid& user, const generation_query& query) override;
  std::vector<uuid> users_with_generations_due(timestamp_us due, size_t max) override;
  std::optional<tenant_snapshot> activate_tenant(const uuid& tenant) override;
  uuid find_subdomain_holder(const std::string& name) override;
  std::vector<membership_view> find_memberships(const uuid& user) override;
  std::optional<webhook_event_row> find_webhook_event(const uuid& id) override;
  std::optional<payment_row> find_payment(const uuid& id) override;
  size_t delete_webhook_events_before(timestamp_us before) override;

  /// Cluster mode, fencing layer 1 (DESIGN.md "Cluster"): from now on every
  /// activation (user, identity, tenant, subdomain, webhook event) checks,
  /// in its own transaction and before it bumps anything, that `holder`
  /// holds the entity's shard lease unexpired by the database clock; if
  /// not it throws store_error(fenced) and changes nothing.
  void fence_activations(lease_holder holder);

private:
  struct session;  // the pqxx connection; defined in the .cpp to keep pqxx out of headers

  /// The live session, connecting (and preparing statements) if needed.
  session& connected();
  /// Translates the exception in flight into store_error and forgets the
  /// session when the connection is gone.
  [[noreturn]] void fail(const char* operation);

  std::string url_;
  int statement_timeout_ms_;
  std::unique_ptr<session> session_;
  /// Set in cluster mode (fence_activations); empty node id: no fence.
  lease_holder fence_;
};

} // namespace tally
