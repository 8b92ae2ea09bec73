#pragma once
// Versioned schema migrations, one ordered list per SQL dialect. A store
// applies every step whose version is above max(schema_version), each in its
// own transaction, and records it there. Steps are append-only: once a
// version has shipped its SQL never changes; later features (auth, tenants,
// webhooks) add versions 2, 3, ... at the end of both lists.
#include <cstdint>
#include <vector>

namespace tally {

/// Which SQL a migration list is written in.
enum class sql_dialect : uint8_t {
  /// SQLite 3.35+ (uuid as canonical lower-case TEXT, timestamps as INTEGER microseconds).
  sqlite,
  /// PostgreSQL 12+ (uuid, TIMESTAMPTZ, BYTEA).
  postgres,
};

/// One schema step; `sql` may hold several statements.
struct migration {
  int version = 0;
  const char* sql = "";
};

/// Creates the bookkeeping table itself; run (idempotently) before reading
/// max(schema_version), inside the same transaction as each step.
const char* schema_version_table_sql(sql_dialect dialect);

/// The ordered steps for `dialect`; versions strictly increase from 1.
const std::vector<migration>& migrations_for(sql_dialect dialect);

/// The newest version either list reaches (both lists stay in step).
int schema_version_latest();

} // namespace tally
