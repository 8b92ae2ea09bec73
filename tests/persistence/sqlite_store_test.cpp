// SQLite specifics: WAL on disk, and a held write lock (SQLITE_BUSY) is a
// transient fault that clears once the lock is released.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include "persistence/migrations.hpp"
#include "persistence/sqlite_store.hpp"
#include "tests/persistence/store_test_support.hpp"

using namespace tally;
using namespace tally::test;

namespace {

/// A raw SQLite connection standing in for "another process".
struct raw_connection {
  explicit raw_connection(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK); }
  ~raw_connection() { sqlite3_close(db); }
  int exec(const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr); }
  std::string text(const std::string& sql) { return text(sql.c_str()); }
  std::string text(const char* sql) {
    sqlite3_stmt* stmt = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(stmt) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
    sqlite3_finalize(stmt);
    return out;
  }
  sqlite3* db = nullptr;
};

} // namespace

TEST_CASE("sqlite store puts the database in WAL mode", "[store][sqlite]") {
  temp_dir dir;
  auto path = (dir.path / "tally.db").string();
  sqlite_store db(path);
  db.migrate();
  raw_connection other(path);
  CHECK(other.text("PRAGMA journal_mode") == "wal");
  CHECK(other.text("SELECT COUNT(*) FROM schema_version") == std::to_string(schema_version_latest()));
}

TEST_CASE("sqlite store reports a held write lock as transient, then recovers", "[store][sqlite]") {
  constexpr int busy_timeout_ms = 50;  // short, so the test waits 50 ms instead of 5 s
  temp_dir dir;
  auto path = (dir.path / "tally.db").string();
  sqlite_store db(path, busy_timeout_ms);
  db.migrate();
  auto user = make_user();
  db.create_user(user);
  auto epoch = db.activate_user(user.id, 10, 0)->owner_epoch;

  raw_connection other(path);
  REQUIRE(other.exec("BEGIN IMMEDIATE") == SQLITE_OK);
  CHECK(fault_of([&] { commit_grants(db, user.id, epoch, {}, 0, 1); }) == store_fault::transient);
  REQUIRE(other.exec("ROLLBACK") == SQLITE_OK);

  // The retry after the lock is gone succeeds on the same store object.
  commit_grants(db, user.id, epoch, {}, 0, 1);
  CHECK(db.read_ledger(user.id, ledger_query{}).entries.size() == 1);
}

TEST_CASE("sqlite store migrates a version-1 database to version 2 in place", "[store][sqlite][auth]") {
  temp_dir dir;
  auto path = (dir.path / "tally.db").string();
  uuid user_id{};
  {
    // A database as the version-1 build left it, with a user and a grant.
    raw_connection v1(path);
    REQUIRE(v1.exec(schema_version_table_sql(sql_dialect::sqlite)) == SQLITE_OK);
    const auto& first = migrations_for(sql_dialect::sqlite).at(0);
    REQUIRE(first.version == 1);
    REQUIRE(v1.exec(first.sql) == SQLITE_OK);
    REQUIRE(v1.exec("INSERT INTO schema_version (version, applied_at) VALUES (1, 0)") == SQLITE_OK);
    sqlite_store db(path);
    auto user = make_user("v1@example.com");
    user_id = user.id;
    db.create_user(user);
    commit_grants(db, user.id, db.activate_user(user.id, 1, 0)->owner_epoch, {}, 0, 2);
  }
  sqlite_store db(path);
  db.migrate();
  raw_connection check(path);
  auto latest = std::to_string(schema_version_latest());
  CHECK(check.text("SELECT MAX(version) FROM schema_version") == latest);
  CHECK(check.text("SELECT COUNT(*) FROM schema_version") == latest);
  auto loaded = db.activate_user(user_id, 1, 0);
  REQUIRE(loaded);
  CHECK(loaded->bal.available == 20);
  CHECK(db.read_ledger(user_id, ledger_query{}).entries.size() == 2);
  // The v1 user is linked by the new auth tables.
  auto identity = db.activate_identity(random_uuid(), identity_kind::email, "v1@example.com", t0_us);
  CHECK(identity.identity.user_id == user_id);
  db.migrate();  // and again: nothing left to do
  CHECK(check.text("SELECT COUNT(*) FROM schema_version") == latest);
}

TEST_CASE("sqlite store writes outbox and audit rows as committed", "[store][sqlite][auth]") {
  temp_dir dir;
  auto path = (dir.path / "tally.db").string();
  sqlite_store db(path);
  db.migrate();
  auto user = make_user();
  auto session = random_uuid();
  write_batch batch;
  batch.outbox.push_back(make_outbox("o'brien@example.com"));
  batch.outbox.back().body = "quote\" back\\slash {brace}\nsecond line";
  batch.audit.push_back(make_audit("logged_out", user.id, session));
  batch.audit.push_back(make_audit("login_failed"));
  db.commit(batch);

  raw_connection raw(path);
  const auto& message = batch.outbox[0];
  auto where_message = " FROM outbox WHERE id = '" + to_string(message.id) + "'";
  CHECK(raw.text("SELECT channel" + where_message) == "email");
  CHECK(raw.text("SELECT destination" + where_message) == "o'brien@example.com");
  CHECK(raw.text("SELECT body" + where_message) == message.body);
  CHECK(raw.text("SELECT created_at" + where_message) == std::to_string(t0_us));
  CHECK(raw.text("SELECT delivered_at IS NULL" + where_message) == "1");
  // What a mailer polls: undelivered, oldest first, through the partial index.
  CHECK(raw.text("SELECT id FROM outbox WHERE delivered_at IS NULL ORDER BY created_at LIMIT 1") ==
        to_string(message.id));

  const auto& known = batch.audit[0];
  auto where_known = " FROM audit_log WHERE id = '" + to_string(known.id) + "'";
  CHECK(raw.text("SELECT event" + where_known) == "logged_out");
  CHECK(raw.text("SELECT request_id" + where_known) == "req-1");
  CHECK(raw.text("SELECT user_id" + where_known) == to_string(user.id));
  CHECK(raw.text("SELECT session_id" + where_known) == to_string(session));
  CHECK(raw.text("SELECT client_ip" + where_known) == "203.0.113.7");
  CHECK(raw.text("SELECT detail" + where_known) == "magic_link");
  CHECK(raw.text("SELECT created_at" + where_known) == std::to_string(t0_us));
  auto where_unknown = " FROM audit_log WHERE id = '" + to_string(batch.audit[1].id) + "'";
  CHECK(raw.text("SELECT user_id IS NULL AND session_id IS NULL" + where_unknown) == "1");
}
