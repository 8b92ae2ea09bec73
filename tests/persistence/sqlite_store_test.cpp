// SQLite specifics: WAL on disk, and a held write lock (SQLITE_BUSY) is a
// transient fault that clears once the lock is released.
#include <catch2/catch.hpp>

#include <sqlite3.h>

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
  CHECK(other.text("SELECT COUNT(*) FROM schema_version") == "1");
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
