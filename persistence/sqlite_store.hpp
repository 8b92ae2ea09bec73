#pragma once
// The SQLite store: the zero-setup default. One file in WAL mode, one
// connection per store object. Commits fsync before they return, so an
// acknowledged batch survives power loss.
#include <functional>
#include <string>
#include <unordered_map>

#include "persistence/store.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace tally {

/// SQLite `synchronous` level. FULL syncs the WAL at every commit: a commit
/// that returned is durable, which is what the writer acknowledges on.
constexpr const char* sqlite_synchronous_mode = "FULL";

/// How long a statement waits for another connection's write lock before
/// SQLITE_BUSY (a transient fault the writer retries).
constexpr int sqlite_busy_timeout_ms = 5000;

/// Page cache per connection. The hot B-tree pages (users, the newest
/// ledger and idempotency pages) stay in memory instead of being re-read
/// from the OS at every commit; the writer and each reader own one.
constexpr int sqlite_page_cache_kib = 16 * 1024;

/// Rows per multi-row INSERT. A power of two: a batch is split into chunks
/// of 2^k rows, so at most log2(max)+1 statement shapes per table are
/// prepared and cached. 256 rows x 10 columns stays far below SQLite's
/// 32766 bound parameters per statement.
constexpr size_t sqlite_insert_rows_max = 256;
static_assert((sqlite_insert_rows_max & (sqlite_insert_rows_max - 1)) == 0,
              "sqlite_insert_rows_max must be a power of two");
static_assert(sqlite_insert_rows_max * 10 <= 32766, "too many bound parameters per INSERT");

class sqlite_store final : public store {
public:
  /// Opens (creating if missing) the database file at `path`, whose parent
  /// directory must exist. Throws store_error(transient) on failure.
  /// `busy_timeout_ms` is overridable so tests can provoke SQLITE_BUSY fast.
  explicit sqlite_store(const std::string& path, int busy_timeout_ms = sqlite_busy_timeout_ms);
  ~sqlite_store() override;
  sqlite_store(const sqlite_store&) = delete;
  sqlite_store& operator=(const sqlite_store&) = delete;

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

private:
  /// Finalizes cached statements and closes the connection.
  void close();
  /// Puts the database in WAL mode, retrying while other openers hold it.
  void use_wal(int busy_timeout_ms);
  /// The cached prepared statement for `sql`, reset and unbound.
  sqlite3_stmt* statement(const std::string& sql);
  /// Runs one statement with no parameters and no result rows.
  void execute(const std::string& sql);
  /// Runs `body` inside BEGIN IMMEDIATE ... COMMIT; rolls back if it throws.
  void in_transaction(const std::function<void()>& body);
  /// Runs `body` inside a deferred (read) BEGIN ... COMMIT: one snapshot
  /// for several reads, without the write lock.
  void in_read_transaction(const std::function<void()>& body);
  /// Runs `body` between `begin` and COMMIT; ROLLBACK and rethrow on failure.
  void run_transaction(const char* begin, const std::function<void()>& body);
  /// The epoch bump and reads of one activation; the caller holds the
  /// transaction.
  std::optional<user_snapshot> activate_locked(const activation_request& request);
  /// One idempotency lookup; no transaction of its own.
  std::optional<idempotency_record> find_idempotency_unguarded(const idempotency_probe& probe);
  void insert_user(const user_row& user);
  void insert_refresh_token(const refresh_token_row& token);

  // One writer per record type: commit() calls write_rows once per vector
  // of write_batch's field list, in its order, so a record type without an
  // overload here does not compile. Balance and identity writes are
  // conditional on owner_epoch and throw store_error(fenced) otherwise.
  void write_rows(const std::vector<user_row>& users);
  void write_rows(const std::vector<balance_write>& writes);
  void write_rows(const std::vector<identity_row>& identities);
  void write_rows(const std::vector<ledger_write>& rows);
  void write_rows(const std::vector<idempotency_record>& rows);
  void write_rows(const std::vector<magic_link_row>& links);
  void write_rows(const std::vector<login_code_row>& codes);
  void write_rows(const std::vector<session_row>& sessions);
  void write_rows(const std::vector<refresh_token_row>& tokens);
  void write_rows(const std::vector<outbox_row>& messages);
  void write_rows(const std::vector<audit_row>& lines);
  void write_rows(const std::vector<generation_row>& generations);
  // Tenants: the row is fenced like identities; a subdomain hold is an
  // insert (the primary key refuses a second holder) and a release deletes
  // only this tenant's hold (otherwise the write is refused).
  void write_rows(const std::vector<tenant_row>& tenants);
  void write_rows(const std::vector<tenant_member_row>& members);
  void write_rows(const std::vector<subdomain_write>& subdomains);
  void write_rows(const std::vector<subscription_row>& subscriptions);
  void write_rows(const std::vector<webhook_event_row>& events);
  void write_rows(const std::vector<payment_row>& payments);

  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> statements_;
};

} // namespace tally
