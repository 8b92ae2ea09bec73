#include "persistence/sqlite_store.hpp"

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <new>
#include <string_view>

#include "persistence/auth_columns.hpp"
#include "persistence/migrations.hpp"

namespace tally {
namespace {

/// Faults that may clear up by themselves: another writer holds the lock, the
/// disk hiccupped or is full, the file is not reachable right now.
bool is_transient(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_NOMEM:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
      return true;
    default:
      return false;
  }
}

[[noreturn]] void fail(sqlite3* db, int rc, std::string_view what) {
  auto fault = is_transient(rc) ? store_fault::transient : store_fault::permanent;
  std::string message = "sqlite: ";
  message.append(what).append(": ").append(db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  throw store_error(fault, message);
}

/// A cached statement in use: binds by position (1-based, like SQLite), steps,
/// reads columns, and resets itself on scope exit so the cache stays clean.
class statement_use {
public:
  statement_use(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  ~statement_use() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  statement_use(const statement_use&) = delete;
  statement_use& operator=(const statement_use&) = delete;

  statement_use& bind(int index, int64_t value) {
    check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }
  statement_use& bind(int index, std::string_view text) {
    check(sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
    return *this;
  }
  statement_use& bind(int index, const uuid& id) { return bind(index, std::string_view{to_string(id)}); }
  /// Empty text is stored as NULL (optional email, phone, description).
  statement_use& bind_or_null(int index, std::string_view text) {
    if (text.empty()) {
      check(sqlite3_bind_null(stmt_, index));
      return *this;
    }
    return bind(index, text);
  }
  /// A nil uuid is stored as NULL (no user, no session).
  statement_use& bind_or_null(int index, const uuid& id) {
    if (id.is_nil()) {
      check(sqlite3_bind_null(stmt_, index));
      return *this;
    }
    return bind(index, id);
  }
  /// A timestamp of 0 ("never") is stored as NULL.
  statement_use& bind_time_or_null(int index, timestamp_us at) {
    if (at == 0) {
      check(sqlite3_bind_null(stmt_, index));
      return *this;
    }
    return bind(index, at);
  }
  statement_use& bind_blob(int index, std::string_view bytes) {
    // A zero-length blob, not NULL: the column is NOT NULL.
    check(sqlite3_bind_blob64(stmt_, index, bytes.empty() ? "" : bytes.data(), bytes.size(),
                              SQLITE_TRANSIENT));
    return *this;
  }

  /// True while a row is available; false when done.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, rc, sqlite3_sql(stmt_));
  }
  /// Steps a statement that returns no rows.
  void run() {
    while (step()) {
    }
  }

  int64_t int64_at(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string text_at(int column) const {
    auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
    return text == nullptr ? std::string{} : std::string(text, sqlite3_column_bytes(stmt_, column));
  }
  std::string blob_at(int column) const {
    auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt_, column));
    return bytes == nullptr ? std::string{} : std::string(bytes, sqlite3_column_bytes(stmt_, column));
  }
  /// NULL reads as the nil uuid.
  uuid uuid_or_nil_at(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL ? uuid{} : uuid_at(column);
  }
  uuid uuid_at(int column) const {
    auto parsed = parse_uuid(text_at(column));
    if (!parsed) throw store_error(store_fault::permanent, "sqlite: malformed uuid in a stored row");
    return *parsed;
  }

private:
  void check(int rc) {
    if (rc != SQLITE_OK) fail(db_, rc, "bind");
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

/// Every store call goes through here: SQLite faults already are
/// store_error; anything else (allocation, a bug) must not escape as-is.
template <class Body>
auto guarded(Body&& body) -> decltype(body()) {
  try {
    return body();
  } catch (const store_error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw store_error(store_fault::transient, "sqlite: out of memory");
  } catch (const std::exception& e) {
    throw store_error(store_fault::permanent, std::string("sqlite: ") + e.what());
  }
}

/// The largest power of two <= n (n >= 1): the next INSERT chunk size.
size_t chunk_rows(size_t n) {
  size_t rows = 1;
  while (rows * 2 <= n) rows *= 2;
  return rows;
}

/// "INSERT INTO t (a, b) VALUES (?, ?), (?, ?)" for `rows` rows.
std::string multi_row_insert(std::string_view head, size_t columns, size_t rows) {
  std::string tuple = "(";
  for (size_t c = 0; c < columns; ++c) tuple += c == 0 ? "?" : ",?";
  tuple += ")";
  std::string sql(head);
  sql.reserve(head.size() + rows * (tuple.size() + 1));
  for (size_t r = 0; r < rows; ++r) {
    if (r > 0) sql += ',';
    sql += tuple;
  }
  return sql;
}

constexpr std::string_view ledger_insert_head =
  "INSERT INTO ledger_entries (user_id, seq, id, type, amount, available_after, reserved_after,"
  " reference, description, created_at) VALUES ";
constexpr size_t ledger_insert_columns = 10;
constexpr std::string_view idempotency_insert_head =
  "INSERT INTO idempotency_keys (user_id, key, request_digest, status, response, created_at) VALUES ";
constexpr size_t idempotency_insert_columns = 6;
static_assert(sqlite_insert_rows_max * ledger_insert_columns <= 32766);

/// A LIMIT that is one more than `n` without overflowing SQLite's int64.
int64_t limit_plus_one(size_t n) {
  constexpr auto most = static_cast<size_t>(std::numeric_limits<int64_t>::max() - 1);
  return static_cast<int64_t>(n < most ? n : most) + 1;
}

} // namespace

sqlite_store::sqlite_store(const std::string& path, int busy_timeout_ms) {
  // NOMUTEX: one thread uses a store object at a time (store.hpp), so
  // SQLite's per-connection mutex would be pure overhead.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags, nullptr);
  try {
    if (rc != SQLITE_OK) {
      throw store_error(store_fault::transient, "sqlite: cannot open " + path + ": " +
                                                  (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc)));
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
    use_wal(busy_timeout_ms);
    execute(std::string("PRAGMA synchronous = ") + sqlite_synchronous_mode);
    execute("PRAGMA foreign_keys = ON");
    // Multi-row INSERTs inside a transaction keep a statement journal (to
    // undo a half-applied statement); in memory it costs no temp file per
    // statement.
    execute("PRAGMA temp_store = MEMORY");
    execute("PRAGMA cache_size = -" + std::to_string(sqlite_page_cache_kib));
  } catch (const store_error& e) {
    close();
    // Whatever stops a fresh connection from working is "cannot reach".
    throw store_error(store_fault::transient, e.what());
  }
}

sqlite_store::~sqlite_store() {
  close();
}

void sqlite_store::close() {
  // Statements first: close_v2 keeps a connection with live statements
  // allocated until they are finalized.
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  statements_.clear();
  sqlite3_close_v2(db_);
  db_ = nullptr;
}

void sqlite_store::use_wal(int busy_timeout_ms) {
  // Switching a fresh file to WAL needs an exclusive lock, and SQLite may
  // answer BUSY at once (without its busy handler) while other connections
  // open the same file, e.g. the writer and the readers at start-up. WAL
  // is persistent, so only the first opener switches; the others retry
  // until they see it, within the same busy budget.
  constexpr int retry_pause_ms = 5;
  for (int waited_ms = 0;; waited_ms += retry_pause_ms) {
    try {
      statement_use mode(db_, statement("PRAGMA journal_mode"));
      // An in-memory database keeps "memory": WAL does not apply there.
      if (mode.step() && (mode.text_at(0) == "wal" || mode.text_at(0) == "memory")) return;
    } catch (const store_error&) {
      if (waited_ms >= busy_timeout_ms) throw;
      sqlite3_sleep(retry_pause_ms);
      continue;
    }
    try {
      statement_use set(db_, statement("PRAGMA journal_mode = WAL"));
      if (set.step() && set.text_at(0) == "wal") return;
      throw store_error(store_fault::transient, "sqlite: the database refused WAL mode");
    } catch (const store_error&) {
      if (waited_ms >= busy_timeout_ms) throw;
      sqlite3_sleep(retry_pause_ms);
    }
  }
}

sqlite3_stmt* sqlite_store::statement(const std::string& sql) {
  if (auto found = statements_.find(sql); found != statements_.end()) return found->second;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.c_str(), static_cast<int>(sql.size() + 1),
                              SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) fail(db_, rc, "prepare");
  statements_.emplace(sql, stmt);
  return stmt;
}

void sqlite_store::execute(const std::string& sql) {
  statement_use use(db_, statement(sql));
  use.run();
}

void sqlite_store::in_transaction(const std::function<void()>& body) {
  // IMMEDIATE takes the write lock up front: a deferred transaction that
  // upgrades later can fail with BUSY without waiting for busy_timeout.
  run_transaction("BEGIN IMMEDIATE", body);
}

void sqlite_store::in_read_transaction(const std::function<void()>& body) {
  run_transaction("BEGIN", body);
}

void sqlite_store::run_transaction(const char* begin, const std::function<void()>& body) {
  // A failed ROLLBACK earlier could leave a transaction open; never nest.
  if (sqlite3_get_autocommit(db_) == 0) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  execute(begin);
  try {
    body();
    execute("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

void sqlite_store::migrate() {
  guarded([&] {
    for (const auto& step : migrations_for(sql_dialect::sqlite)) {
      // The write lock of BEGIN IMMEDIATE serialises concurrent starters:
      // the second one sees the first one's version and skips the step.
      in_transaction([&] {
        execute(schema_version_table_sql(sql_dialect::sqlite));
        int64_t current_version = 0;
        {  // reset before the DDL below runs on this connection
          statement_use current(db_, statement("SELECT COALESCE(MAX(version), 0) FROM schema_version"));
          current.step();
          current_version = current.int64_at(0);
        }
        if (step.version <= current_version) return;
        char* message = nullptr;
        int rc = sqlite3_exec(db_, step.sql, nullptr, nullptr, &message);
        if (rc != SQLITE_OK) {
          std::string what = "migration " + std::to_string(step.version) + ": " +
                             (message != nullptr ? message : sqlite3_errstr(rc));
          sqlite3_free(message);
          throw store_error(is_transient(rc) ? store_fault::transient : store_fault::permanent,
                            "sqlite: " + what);
        }
        statement_use record(db_, statement("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)"));
        record.bind(1, int64_t{step.version}).bind(2, now_us()).run();
      });
    }
  });
}

void sqlite_store::ping() {
  guarded([&] {
    statement_use use(db_, statement("SELECT 1"));
    use.run();
  });
}

void sqlite_store::create_user(const user_row& user) {
  guarded([&] { insert_user(user); });
}

void sqlite_store::insert_user(const user_row& user) {
  // A row without a creation time would claim 1970; stamp it now instead.
  timestamp_us created_at = user.created_at != 0 ? user.created_at : now_us();
  statement_use use(db_, statement("INSERT INTO users (id, email, phone, created_at, updated_at)"
                                   " VALUES (?1, ?2, ?3, ?4, ?4)"));
  use.bind(1, user.id).bind_or_null(2, user.email).bind_or_null(3, user.phone).bind(4, created_at);
  use.run();
}

std::optional<user_snapshot> sqlite_store::activate_user(const uuid& user, size_t recent_idempotency_max,
                                                         timestamp_us idempotency_since) {
  return guarded([&] {
    std::optional<user_snapshot> snapshot;
    in_transaction([&] { snapshot = activate_locked({user, recent_idempotency_max, idempotency_since}); });
    return snapshot;
  });
}

std::vector<std::optional<user_snapshot>> sqlite_store::activate_users(
  const std::vector<activation_request>& requests) {
  return guarded([&] {
    std::vector<std::optional<user_snapshot>> loaded;
    loaded.reserve(requests.size());
    if (requests.empty()) return loaded;
    // One write lock and one commit (one fsync) for the whole batch.
    in_transaction([&] {
      loaded.clear();
      for (const auto& request : requests) loaded.push_back(activate_locked(request));
    });
    return loaded;
  });
}

std::optional<user_snapshot> sqlite_store::activate_locked(const activation_request& request) {
  const auto& user = request.user;
  std::optional<user_snapshot> snapshot;
  {
    statement_use bump(db_, statement(
      "UPDATE users SET owner_epoch = owner_epoch + 1 WHERE id = ?1"
      " RETURNING email, phone, created_at, available, reserved, ledger_seq, owner_epoch"));
    bump.bind(1, user);
    if (!bump.step()) return snapshot;
    snapshot.emplace();
    snapshot->user.id = user;
    snapshot->user.email = bump.text_at(0);
    snapshot->user.phone = bump.text_at(1);
    snapshot->user.created_at = bump.int64_at(2);
    snapshot->bal.available = bump.int64_at(3);
    snapshot->bal.reserved = bump.int64_at(4);
    snapshot->ledger_seq = bump.int64_at(5);
    snapshot->owner_epoch = bump.int64_at(6);
    bump.run();  // RETURNING statements finish on the last step
  }
  statement_use recent(db_, statement(
    "SELECT key, request_digest, status, response, created_at FROM idempotency_keys"
    " WHERE user_id = ?1 AND created_at >= ?2 ORDER BY created_at DESC, key DESC LIMIT ?3"));
  recent.bind(1, user).bind(2, request.idempotency_since).bind(3, limit_plus_one(request.recent_idempotency_max));
  while (recent.step()) {
    if (snapshot->recent_idempotency.size() == request.recent_idempotency_max) {
      snapshot->older_idempotency_in_store = true;
      break;
    }
    snapshot->recent_idempotency.push_back(idempotency_record{
      user, recent.text_at(0), recent.text_at(1), static_cast<int>(recent.int64_at(2)),
      recent.blob_at(3), recent.int64_at(4)});
  }
  return snapshot;
}

ledger_page sqlite_store::read_ledger(const uuid& user, const ledger_query& query) {
  return guarded([&] {
    ledger_page page;
    if (query.limit <= 0) return page;
    statement_use use(db_, statement(
      "SELECT id, seq, type, amount, available_after, reserved_after, reference, created_at"
      " FROM ledger_entries WHERE user_id = ?1 AND seq < ?2 AND (?3 IS NULL OR type = ?3)"
      " ORDER BY seq DESC LIMIT ?4"));
    use.bind(1, user).bind(2, query.before_seq.value_or(std::numeric_limits<int64_t>::max()));
    if (query.type) use.bind(3, to_string(*query.type));
    use.bind(4, int64_t{query.limit} + 1);  // one extra row tells whether more exist
    while (use.step()) {
      if (page.entries.size() == static_cast<size_t>(query.limit)) {
        page.next_before_seq = page.entries.back().seq;
        break;
      }
      auto type = parse_ledger_type(use.text_at(2));
      if (!type) throw store_error(store_fault::permanent, "sqlite: unknown ledger type in a stored row");
      page.entries.push_back(ledger_entry{use.uuid_at(0), use.int64_at(1), *type, use.int64_at(3),
                                          use.int64_at(4), use.int64_at(5), use.text_at(6),
                                          use.int64_at(7)});
    }
    return page;
  });
}

std::optional<idempotency_record> sqlite_store::find_idempotency(const uuid& user, const std::string& key,
                                                                 timestamp_us since) {
  return guarded([&] { return find_idempotency_unguarded({user, key, since}); });
}

std::vector<std::optional<idempotency_record>> sqlite_store::find_idempotency_many(
  const std::vector<idempotency_probe>& probes) {
  return guarded([&] {
    std::vector<std::optional<idempotency_record>> found;
    found.reserve(probes.size());
    if (probes.empty()) return found;
    // SQLite is in-process: a loop over the cached statement costs no round
    // trips; the read transaction takes the WAL snapshot once, not per probe.
    in_read_transaction([&] {
      found.clear();
      for (const auto& probe : probes) found.push_back(find_idempotency_unguarded(probe));
    });
    return found;
  });
}

std::optional<idempotency_record> sqlite_store::find_idempotency_unguarded(const idempotency_probe& probe) {
  std::optional<idempotency_record> found;
  statement_use use(db_, statement(
    "SELECT request_digest, status, response, created_at FROM idempotency_keys"
    " WHERE user_id = ?1 AND key = ?2 AND created_at >= ?3"));
  use.bind(1, probe.user).bind(2, probe.key).bind(3, probe.since);
  if (use.step()) {
    found = idempotency_record{probe.user, probe.key, use.text_at(0), static_cast<int>(use.int64_at(1)),
                               use.blob_at(2), use.int64_at(3)};
  }
  return found;
}

void sqlite_store::write_rows(const std::vector<ledger_write>& rows) {
  for (size_t done = 0; done < rows.size();) {
    size_t count = chunk_rows(std::min(rows.size() - done, sqlite_insert_rows_max));
    statement_use use(db_, statement(multi_row_insert(ledger_insert_head, ledger_insert_columns, count)));
    for (size_t r = done; r < done + count; ++r) {
      const auto& row = rows[r];
      const auto& entry = row.entry;
      int p = static_cast<int>((r - done) * ledger_insert_columns);  // parameters before this row
      use.bind(p + 1, row.user_id)
        .bind(p + 2, entry.seq)
        .bind(p + 3, entry.id)
        .bind(p + 4, to_string(entry.type))
        .bind(p + 5, entry.amount)
        .bind(p + 6, entry.available_after)
        .bind(p + 7, entry.reserved_after)
        .bind(p + 8, entry.reference)
        .bind_or_null(p + 9, row.description)
        .bind(p + 10, entry.created_at);
    }
    use.run();
    done += count;
  }
}

void sqlite_store::write_rows(const std::vector<idempotency_record>& rows) {
  for (size_t done = 0; done < rows.size();) {
    size_t count = chunk_rows(std::min(rows.size() - done, sqlite_insert_rows_max));
    statement_use use(db_,
                      statement(multi_row_insert(idempotency_insert_head, idempotency_insert_columns, count)));
    for (size_t r = done; r < done + count; ++r) {
      const auto& row = rows[r];
      int p = static_cast<int>((r - done) * idempotency_insert_columns);  // parameters before this row
      use.bind(p + 1, row.user_id)
        .bind(p + 2, row.key)
        .bind(p + 3, row.request_digest)
        .bind(p + 4, int64_t{row.status})
        .bind_blob(p + 5, row.response)
        .bind(p + 6, row.created_at);
    }
    use.run();
    done += count;
  }
}

void sqlite_store::write_rows(const std::vector<user_row>& users) {
  for (const auto& user : users) insert_user(user);
}

void sqlite_store::write_rows(const std::vector<balance_write>& writes) {
  for (const auto& write : writes) {
    statement_use use(db_, statement(
      "UPDATE users SET available = ?1, reserved = ?2, ledger_seq = ?3, updated_at = ?4"
      " WHERE id = ?5 AND owner_epoch = ?6"));
    use.bind(1, write.bal.available)
      .bind(2, write.bal.reserved)
      .bind(3, write.ledger_seq)
      .bind(4, write.updated_at)
      .bind(5, write.user_id)
      .bind(6, write.owner_epoch);
    use.run();
    if (sqlite3_changes(db_) == 0) {
      throw store_error(store_fault::fenced, "sqlite: user " + to_string(write.user_id) +
                                               " is not at owner epoch " +
                                               std::to_string(write.owner_epoch));
    }
  }
}

void sqlite_store::commit(const write_batch& batch) {
  if (batch.empty()) return;
  guarded([&] {
    in_transaction([&] {
      // In the field list's order (protocols/records.hpp): users first.
      fields(batch, [&](const auto&... rows) { (write_rows(rows), ...); });
    });
  });
}

size_t sqlite_store::delete_idempotency_before(timestamp_us before) {
  return guarded([&] {
    statement_use use(db_, statement("DELETE FROM idempotency_keys WHERE created_at < ?1"));
    use.bind(1, before).run();
    return static_cast<size_t>(sqlite3_changes64(db_));
  });
}

// -- auth ------------------------------------------------------------------------
//
// Auth rows go one statement per row: SQLite runs in-process (no round trip
// to save), and a login or refresh brings a handful of rows, not hundreds.

namespace {

constexpr const char* session_columns =
  "id, user_id, refresh_hash, previous_refresh_hash, rotated_at, created_at, expires_at, revoked_at";

/// Reads a row selected with session_columns, starting at column 0.
session_row session_from(const statement_use& row) {
  return session_row{row.uuid_at(0),     row.uuid_at(1),     row.text_at(2),     row.text_at(3),
                     row.int64_at(4),    row.int64_at(5),    row.int64_at(6),    row.int64_at(7)};
}

/// Binds the 8 values of session_columns at ?1..?8.
void bind_session(statement_use& use, const session_row& session) {
  use.bind(1, session.id)
    .bind(2, session.user_id)
    .bind(3, session.refresh_hash)
    .bind_or_null(4, session.previous_refresh_hash)
    .bind_time_or_null(5, session.rotated_at)
    .bind(6, session.created_at)
    .bind(7, session.expires_at)
    .bind_time_or_null(8, session.revoked_at);
}

} // namespace

identity_snapshot sqlite_store::activate_identity(const uuid& identity, identity_kind kind,
                                                  const std::string& value, timestamp_us now) {
  return guarded([&] {
    identity_snapshot snapshot;
    in_transaction([&] {
      {
        // The users lookup links a user made by `tally create-user`.
        statement_use insert(db_, statement(
          "INSERT INTO identities (id, kind, value, user_id, created_at)"
          " VALUES (?1, ?2, ?3, CASE ?2 WHEN 'email' THEN (SELECT id FROM users WHERE email = ?3)"
          " ELSE (SELECT id FROM users WHERE phone = ?3) END, ?4)"
          " ON CONFLICT DO NOTHING"));
        insert.bind(1, identity).bind(2, identity_kind_column(kind)).bind(3, value).bind(4, now);
        insert.run();
      }
      {
        // A row created before its user was (a link requested, then the
        // operator ran create-user) links now: otherwise the first login
        // would try to create a second user with the same email.
        statement_use bump(db_, statement(
          "UPDATE identities SET owner_epoch = owner_epoch + 1, user_id = COALESCE(user_id,"
          " CASE kind WHEN 'email' THEN (SELECT u.id FROM users AS u WHERE u.email = identities.value)"
          " ELSE (SELECT u.id FROM users AS u WHERE u.phone = identities.value) END)"
          " WHERE id = ?1 RETURNING kind, value, user_id, request_limit_tat, owner_epoch, created_at"));
        bump.bind(1, identity);
        if (!bump.step()) {
          // Only another identity holding (kind, value) stops the insert.
          throw store_error(store_fault::permanent,
                            "sqlite: identity " + to_string(identity) + " conflicts with a stored identity");
        }
        auto stored_kind = parse_identity_kind_column(bump.text_at(0));
        if (!stored_kind) throw store_error(store_fault::permanent, "sqlite: unknown identity kind in a stored row");
        snapshot.identity = identity_row{identity,          *stored_kind,      bump.text_at(1),
                                         bump.uuid_or_nil_at(2), bump.int64_at(3), bump.int64_at(4),
                                         bump.int64_at(5)};
        bump.run();  // RETURNING statements finish on the last step
      }
      statement_use code(db_, statement(
        "SELECT code_hash, created_at, expires_at, failures, next_attempt_at, locked"
        " FROM login_codes WHERE identity_id = ?1"));
      code.bind(1, identity);
      if (code.step()) {
        snapshot.code = login_code_row{identity,         code.text_at(0),
                                       code.int64_at(1), code.int64_at(2),
                                       static_cast<int>(code.int64_at(3)), code.int64_at(4),
                                       code.int64_at(5) != 0};
      }
    });
    return snapshot;
  });
}

std::vector<bool> sqlite_store::known_identities(const std::vector<uuid>& ids) {
  return guarded([&] {
    std::vector<bool> known;
    if (ids.empty()) return known;
    // In-process: one cached statement per id inside one read transaction
    // (one WAL snapshot) costs no round trips.
    in_read_transaction([&] {
      known.clear();
      for (const auto& id : ids) {
        statement_use use(db_, statement("SELECT 1 FROM identities WHERE id = ?1"));
        use.bind(1, id);
        known.push_back(use.step());
      }
    });
    return known;
  });
}

std::optional<magic_link_row> sqlite_store::find_magic_link(const std::string& token_hash) {
  return guarded([&] {
    std::optional<magic_link_row> found;
    statement_use use(db_, statement(
      "SELECT identity_id, created_at, expires_at, used_at FROM magic_links WHERE token_hash = ?1"));
    use.bind(1, token_hash);
    if (use.step())
      found = magic_link_row{token_hash, use.uuid_at(0), use.int64_at(1), use.int64_at(2), use.int64_at(3)};
    return found;
  });
}

std::optional<session_row> sqlite_store::find_session(const uuid& user, const uuid& session) {
  return guarded([&] {
    std::optional<session_row> found;
    statement_use use(db_, statement(std::string("SELECT ") + session_columns +
                                     " FROM sessions WHERE id = ?1 AND user_id = ?2"));
    use.bind(1, session).bind(2, user);
    if (use.step()) found = session_from(use);
    return found;
  });
}

std::optional<refresh_token_row> sqlite_store::find_refresh_token(const std::string& token_hash) {
  return guarded([&] {
    std::optional<refresh_token_row> found;
    statement_use use(db_, statement(
      "SELECT session_id, user_id, issued_at FROM refresh_tokens WHERE token_hash = ?1"));
    use.bind(1, token_hash);
    if (use.step()) found = refresh_token_row{token_hash, use.uuid_at(0), use.uuid_at(1), use.int64_at(2)};
    return found;
  });
}

void sqlite_store::create_session(const session_row& session, const refresh_token_row& token) {
  guarded([&] {
    in_transaction([&] {
      {
        statement_use insert(db_, statement(
          std::string("INSERT INTO sessions (") + session_columns +
          ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8 WHERE EXISTS (SELECT 1 FROM users WHERE id = ?2)"));
        bind_session(insert, session);
        insert.run();
      }
      if (sqlite3_changes(db_) == 0)
        throw store_error(store_fault::permanent, "sqlite: no user " + to_string(session.user_id));
      insert_refresh_token(token);
    });
  });
}

size_t sqlite_store::delete_expired_auth(timestamp_us now) {
  return guarded([&] {
    size_t deleted = 0;
    timestamp_us before = now - expired_auth_retention_us;
    in_transaction([&] {
      auto run = [&](const char* sql) {
        statement_use use(db_, statement(sql));
        use.bind(1, before).run();
        deleted += static_cast<size_t>(sqlite3_changes64(db_));
      };
      run("DELETE FROM magic_links WHERE expires_at < ?1");
      run("DELETE FROM login_codes WHERE expires_at < ?1");
      // Tokens first: they are found through the sessions about to go.
      run("DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions"
          " WHERE expires_at < ?1 OR revoked_at < ?1)");
      run("DELETE FROM sessions WHERE expires_at < ?1 OR revoked_at < ?1");
    });
    return deleted;
  });
}

void sqlite_store::insert_refresh_token(const refresh_token_row& token) {
  statement_use use(db_, statement(
    "INSERT INTO refresh_tokens (token_hash, session_id, user_id, issued_at) VALUES (?1, ?2, ?3, ?4)"));
  use.bind(1, token.token_hash).bind(2, token.session_id).bind(3, token.user_id).bind(4, token.issued_at);
  use.run();
}

void sqlite_store::write_rows(const std::vector<identity_row>& identities) {
  for (const auto& identity : identities) {
    // kind, value and created_at never change after the insert.
    statement_use use(db_, statement(
      "UPDATE identities SET user_id = ?1, request_limit_tat = ?2 WHERE id = ?3 AND owner_epoch = ?4"));
    use.bind_or_null(1, identity.user_id)
      .bind(2, identity.request_limit_tat)
      .bind(3, identity.id)
      .bind(4, identity.owner_epoch);
    use.run();
    if (sqlite3_changes(db_) == 0) {
      throw store_error(store_fault::fenced, "sqlite: identity " + to_string(identity.id) +
                                               " is not at owner epoch " + std::to_string(identity.owner_epoch));
    }
  }
}

void sqlite_store::write_rows(const std::vector<magic_link_row>& links) {
  for (const auto& link : links) {
    statement_use use(db_, statement(
      "INSERT INTO magic_links (token_hash, identity_id, created_at, expires_at, used_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (token_hash) DO UPDATE SET"
      " identity_id = excluded.identity_id, created_at = excluded.created_at,"
      " expires_at = excluded.expires_at, used_at = excluded.used_at"));
    use.bind(1, link.token_hash)
      .bind(2, link.identity_id)
      .bind(3, link.created_at)
      .bind(4, link.expires_at)
      .bind_time_or_null(5, link.used_at);
    use.run();
  }
}

void sqlite_store::write_rows(const std::vector<login_code_row>& codes) {
  for (const auto& code : codes) {
    statement_use use(db_, statement(
      "INSERT INTO login_codes (identity_id, code_hash, created_at, expires_at, failures, next_attempt_at,"
      " locked) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (identity_id) DO UPDATE SET"
      " code_hash = excluded.code_hash, created_at = excluded.created_at, expires_at = excluded.expires_at,"
      " failures = excluded.failures, next_attempt_at = excluded.next_attempt_at, locked = excluded.locked"));
    use.bind(1, code.identity_id)
      .bind(2, code.code_hash)
      .bind(3, code.created_at)
      .bind(4, code.expires_at)
      .bind(5, int64_t{code.failures})
      .bind(6, code.next_attempt_at)
      .bind(7, int64_t{code.locked ? 1 : 0});
    use.run();
  }
}

void sqlite_store::write_rows(const std::vector<session_row>& sessions) {
  for (const auto& session : sessions) {
    statement_use use(db_, statement(
      std::string("INSERT INTO sessions (") + session_columns +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO UPDATE SET"
      " user_id = excluded.user_id, refresh_hash = excluded.refresh_hash,"
      " previous_refresh_hash = excluded.previous_refresh_hash, rotated_at = excluded.rotated_at,"
      " created_at = excluded.created_at, expires_at = excluded.expires_at, revoked_at = excluded.revoked_at"));
    bind_session(use, session);
    use.run();
  }
}

void sqlite_store::write_rows(const std::vector<refresh_token_row>& tokens) {
  for (const auto& token : tokens) insert_refresh_token(token);
}

void sqlite_store::write_rows(const std::vector<outbox_row>& messages) {
  for (const auto& message : messages) {
    statement_use use(db_, statement(
      "INSERT INTO outbox (id, channel, destination, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5)"));
    use.bind(1, message.id)
      .bind(2, message.channel)
      .bind(3, message.destination)
      .bind(4, message.body)
      .bind(5, message.created_at);
    use.run();
  }
}

void sqlite_store::write_rows(const std::vector<audit_row>& lines) {
  for (const auto& line : lines) {
    statement_use use(db_, statement(
      "INSERT INTO audit_log (id, created_at, event, request_id, user_id, session_id, client_ip, detail)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"));
    use.bind(1, line.id)
      .bind(2, line.created_at)
      .bind(3, line.event)
      .bind(4, line.request_id)
      .bind_or_null(5, line.user_id)
      .bind_or_null(6, line.session_id)
      .bind(7, line.client_ip)
      .bind(8, line.detail);
    use.run();
  }
}

// -- generations ---------------------------------------------------------------------

namespace {

constexpr const char* generation_columns =
  "id, user_id, model_id, price, prompt, params, status, result_url, error, idempotency_key, created_at,"
  " updated_at, timeout_at";

generation_row generation_from(const statement_use& use) {
  auto status = parse_generation_status(use.text_at(6));
  if (!status) throw store_error(store_fault::permanent, "sqlite: unknown generation status in a stored row");
  return generation_row{use.uuid_at(0),    use.uuid_at(1),     use.text_at(2),  use.int64_at(3),
                        use.text_at(4),    use.text_at(5),     *status,         use.text_at(7),
                        use.text_at(8),    use.text_at(9),     use.int64_at(10), use.int64_at(11),
                        use.int64_at(12)};
}

} // namespace

void sqlite_store::write_rows(const std::vector<generation_row>& generations) {
  for (const auto& row : generations) {
    statement_use use(db_, statement(
      std::string("INSERT INTO generations (") + generation_columns +
      ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
      " ON CONFLICT (id) DO UPDATE SET status = excluded.status, result_url = excluded.result_url,"
      " error = excluded.error, updated_at = excluded.updated_at"));
    use.bind(1, row.id)
      .bind(2, row.user_id)
      .bind(3, row.model_id)
      .bind(4, row.price)
      .bind(5, row.prompt)
      .bind(6, row.params_json)
      .bind(7, to_string(row.status))
      .bind_or_null(8, row.result_url)
      .bind_or_null(9, row.error)
      .bind_or_null(10, row.idempotency_key)
      .bind(11, row.created_at)
      .bind(12, row.updated_at)
      .bind(13, row.timeout_at);
    use.run();
  }
}

std::vector<generation_row> sqlite_store::find_active_generations(const std::vector<uuid>& users) {
  return guarded([&] {
    std::vector<generation_row> found;
    in_read_transaction([&] {
      found.clear();
      for (const auto& user : users) {
        statement_use use(db_, statement(std::string("SELECT ") + generation_columns +
                                         " FROM generations WHERE user_id = ?1"
                                         " AND status IN ('pending', 'processing') ORDER BY created_at, id"));
        use.bind(1, user);
        while (use.step()) found.push_back(generation_from(use));
      }
    });
    return found;
  });
}

std::optional<generation_row> sqlite_store::find_generation(const uuid& user, const uuid& generation) {
  return guarded([&] {
    std::optional<generation_row> found;
    statement_use use(db_, statement(std::string("SELECT ") + generation_columns +
                                     " FROM generations WHERE id = ?1 AND user_id = ?2"));
    use.bind(1, generation).bind(2, user);
    if (use.step()) found = generation_from(use);
    return found;
  });
}

generation_page sqlite_store::read_generations(const uuid& user, const generation_query& query) {
  return guarded([&] {
    generation_page page;
    if (query.limit <= 0) return page;
    statement_use use(db_, statement(
      std::string("SELECT ") + generation_columns +
      " FROM generations WHERE user_id = ?1 AND (?2 IS NULL OR status = ?2)"
      " AND (?3 = 0 OR status IN ('pending', 'processing'))"
      " AND (?4 IS NULL OR created_at < ?4 OR (created_at = ?4 AND id < ?5))"
      " ORDER BY created_at DESC, id DESC LIMIT ?6"));
    use.bind(1, user);
    if (query.status) use.bind(2, to_string(*query.status));
    use.bind(3, int64_t{query.active_only ? 1 : 0});
    if (query.before_created_at) use.bind(4, *query.before_created_at).bind(5, query.before_id);
    use.bind(6, int64_t{query.limit} + 1);  // one extra row tells whether more exist
    while (use.step()) {
      if (page.generations.size() == static_cast<size_t>(query.limit)) {
        page.next_created_at = page.generations.back().created_at;
        page.next_id = page.generations.back().id;
        break;
      }
      page.generations.push_back(generation_from(use));
    }
    return page;
  });
}

std::vector<uuid> sqlite_store::users_with_generations_due(timestamp_us due, size_t max) {
  return guarded([&] {
    std::vector<uuid> users;
    statement_use use(db_, statement(
      "SELECT DISTINCT user_id FROM generations WHERE status IN ('pending', 'processing')"
      " AND timeout_at <= ?1 LIMIT ?2"));
    use.bind(1, due).bind(2, limit_plus_one(max) - 1);
    while (use.step()) users.push_back(use.uuid_at(0));
    return users;
  });
}

// -- tenants ---------------------------------------------------------------------

void sqlite_store::write_rows(const std::vector<tenant_row>& tenants) {
  for (const auto& tenant : tenants) {
    // A new tenant is inserted; later writes apply only at its owner epoch.
    statement_use use(db_, statement(
      "INSERT INTO tenants (id, name, owner_id, active_module, subdomain, owner_epoch, created_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET"
      " name = excluded.name, active_module = excluded.active_module, subdomain = excluded.subdomain"
      " WHERE tenants.owner_epoch = excluded.owner_epoch"));
    use.bind(1, tenant.id)
      .bind(2, tenant.name)
      .bind(3, tenant.owner_id)
      .bind_or_null(4, tenant.active_module)
      .bind_or_null(5, tenant.subdomain)
      .bind(6, tenant.owner_epoch)
      .bind(7, tenant.created_at);
    use.run();
    if (sqlite3_changes(db_) == 0)
      throw store_error(store_fault::fenced, "sqlite: tenant " + to_string(tenant.id) +
                                               " is not at owner epoch " + std::to_string(tenant.owner_epoch));
  }
}

void sqlite_store::write_rows(const std::vector<tenant_member_row>& members) {
  for (const auto& member : members) {
    statement_use use(db_, statement(
      "INSERT INTO tenant_members (tenant_id, user_id, role, created_at) VALUES (?1, ?2, ?3, ?4)"));
    use.bind(1, member.tenant_id).bind(2, member.user_id).bind(3, member.role).bind(4, member.created_at);
    use.run();
  }
}

void sqlite_store::write_rows(const std::vector<subdomain_write>& subdomains) {
  for (const auto& subdomain : subdomains) {
    if (subdomain.held) {
      statement_use use(db_, statement(
        "INSERT INTO subdomains (name, tenant_id, held_since) VALUES (?1, ?2, ?3)"));
      use.bind(1, subdomain.name).bind(2, subdomain.tenant_id).bind(3, subdomain.at);
      use.run();
      continue;
    }
    statement_use use(db_, statement("DELETE FROM subdomains WHERE name = ?1 AND tenant_id = ?2"));
    use.bind(1, subdomain.name).bind(2, subdomain.tenant_id);
    use.run();
    if (sqlite3_changes(db_) == 0)
      throw store_error(store_fault::permanent, "sqlite: subdomain " + subdomain.name +
                                                  " is not held by tenant " + to_string(subdomain.tenant_id));
  }
}

void sqlite_store::write_rows(const std::vector<subscription_row>& subscriptions) {
  for (const auto& row : subscriptions) {
    statement_use use(db_, statement(
      "INSERT INTO subscriptions (id, tenant_id, module, plan, status, trial_ends_at, created_at, updated_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO UPDATE SET"
      " status = excluded.status, updated_at = excluded.updated_at"));
    use.bind(1, row.id)
      .bind(2, row.tenant_id)
      .bind(3, row.module)
      .bind(4, row.plan)
      .bind(5, row.status)
      .bind(6, row.trial_ends_at)
      .bind(7, row.created_at)
      .bind(8, row.updated_at);
    use.run();
  }
}

std::optional<tenant_snapshot> sqlite_store::activate_tenant(const uuid& tenant) {
  return guarded([&] {
    std::optional<tenant_snapshot> snapshot;
    in_transaction([&] {
      {
        statement_use bump(db_, statement(
          "UPDATE tenants SET owner_epoch = owner_epoch + 1 WHERE id = ?1"
          " RETURNING name, owner_id, active_module, subdomain, owner_epoch, created_at"));
        bump.bind(1, tenant);
        if (!bump.step()) return;
        snapshot.emplace();
        snapshot->tenant = tenant_row{tenant,          bump.text_at(0),  bump.uuid_at(1), bump.text_at(2),
                                      bump.text_at(3), bump.int64_at(4), bump.int64_at(5)};
        bump.run();  // RETURNING statements finish on the last step
      }
      {
        statement_use members(db_, statement(
          "SELECT user_id, role, created_at FROM tenant_members WHERE tenant_id = ?1 ORDER BY created_at"));
        members.bind(1, tenant);
        while (members.step())
          snapshot->members.push_back(
            tenant_member_row{tenant, members.uuid_at(0), members.text_at(1), members.int64_at(2)});
      }
      statement_use newest(db_, statement(
        "SELECT id, module, plan, status, trial_ends_at, created_at, updated_at FROM subscriptions"
        " WHERE tenant_id = ?1 ORDER BY created_at DESC LIMIT 1"));
      newest.bind(1, tenant);
      if (newest.step())
        snapshot->subscription = subscription_row{newest.uuid_at(0),  tenant,
                                                  newest.text_at(1),  newest.text_at(2),
                                                  newest.text_at(3),  newest.int64_at(4),
                                                  newest.int64_at(5), newest.int64_at(6)};
    });
    return snapshot;
  });
}

uuid sqlite_store::find_subdomain_holder(const std::string& name) {
  return guarded([&] {
    statement_use use(db_, statement("SELECT tenant_id FROM subdomains WHERE name = ?1"));
    use.bind(1, name);
    return use.step() ? use.uuid_at(0) : uuid{};
  });
}

std::vector<membership_view> sqlite_store::find_memberships(const uuid& user) {
  return guarded([&] {
    std::vector<membership_view> found;
    statement_use use(db_, statement(
      "SELECT t.id, t.name, m.role FROM tenant_members AS m JOIN tenants AS t ON t.id = m.tenant_id"
      " WHERE m.user_id = ?1 ORDER BY m.created_at, t.id"));
    use.bind(1, user);
    while (use.step()) found.push_back(membership_view{use.uuid_at(0), use.text_at(1), use.text_at(2)});
    return found;
  });
}

// -- payment webhooks -------------------------------------------------------------

std::optional<webhook_event_row> sqlite_store::find_webhook_event(const uuid& id) {
  return guarded([&] {
    std::optional<webhook_event_row> found;
    statement_use use(db_, statement(
      "SELECT event_id, type, status, deliveries, first_seen_at, processed_at FROM webhook_events"
      " WHERE id = ?1"));
    use.bind(1, id);
    if (use.step()) {
      auto status = parse_webhook_status(use.text_at(2));
      if (!status) throw store_error(store_fault::permanent, "sqlite: unknown webhook status in a stored row");
      found = webhook_event_row{id,           use.text_at(0),  use.text_at(1), *status,
                                use.int64_at(3), use.int64_at(4), use.int64_at(5)};
    }
    return found;
  });
}

std::optional<payment_row> sqlite_store::find_payment(const uuid& id) {
  return guarded([&] {
    std::optional<payment_row> found;
    statement_use use(db_, statement(
      "SELECT object_id, user_id, credits, event_id, created_at FROM payments WHERE id = ?1"));
    use.bind(1, id);
    if (use.step())
      found = payment_row{id, use.text_at(0), use.uuid_at(1), use.int64_at(2), use.text_at(3), use.int64_at(4)};
    return found;
  });
}

size_t sqlite_store::delete_webhook_events_before(timestamp_us before) {
  return guarded([&] {
    size_t deleted = 0;
    in_transaction([&] {
      statement_use use(db_, statement("DELETE FROM webhook_events WHERE first_seen_at < ?1"));
      use.bind(1, before).run();
      deleted = static_cast<size_t>(sqlite3_changes64(db_));
    });
    return deleted;
  });
}

void sqlite_store::write_rows(const std::vector<webhook_event_row>& events) {
  // A monotone merge (protocols/webhook.hpp): the event's entity and the
  // user's top-up both write this row, and neither may undo the other.
  for (const auto& event : events) {
    statement_use use(db_, statement(
      "INSERT INTO webhook_events (id, event_id, type, status, deliveries, first_seen_at, processed_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO UPDATE SET"
      " status = CASE WHEN webhook_events.status = 'processed' THEN 'processed' ELSE excluded.status END,"
      " deliveries = MAX(webhook_events.deliveries, excluded.deliveries),"
      " first_seen_at = MIN(webhook_events.first_seen_at, excluded.first_seen_at),"
      " processed_at = COALESCE(webhook_events.processed_at, excluded.processed_at)"));
    use.bind(1, event.id)
      .bind(2, event.event_id)
      .bind(3, event.type)
      .bind(4, to_string(event.status))
      .bind(5, event.deliveries)
      .bind(6, event.first_seen_at)
      .bind_time_or_null(7, event.processed_at);
    use.run();
  }
}

void sqlite_store::write_rows(const std::vector<payment_row>& payments) {
  // A plain INSERT: a second row for one object violates the primary key
  // and fails the whole batch (the store's guard against a second top-up).
  for (const auto& payment : payments) {
    statement_use use(db_, statement(
      "INSERT INTO payments (id, object_id, user_id, credits, event_id, created_at)"
      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)"));
    use.bind(1, payment.id)
      .bind(2, payment.object_id)
      .bind(3, payment.user_id)
      .bind(4, payment.credits)
      .bind(5, payment.event_id)
      .bind(6, payment.created_at);
    use.run();
  }
}

} // namespace tally
