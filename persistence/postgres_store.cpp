#include "persistence/postgres_store.hpp"

#include <pqxx/pqxx>

#include <algorithm>
#include <limits>
#include <new>
#include <string_view>
#include <utility>
#include <vector>

#include "persistence/migrations.hpp"

namespace tally {
namespace {

// Timestamps cross the wire as int64 microseconds (timestamp_us) and live in
// TIMESTAMPTZ columns. Postgres stores TIMESTAMPTZ as int64 microseconds
// too, so the conversion is exact; round() keeps it exact even on servers
// where extract() returns double precision.
std::string from_us(std::string_view value) {
  return "(timestamptz 'epoch' + (" + std::string(value) + ")::bigint * interval '1 microsecond')";
}
std::string to_us(std::string_view column) {
  return "round(extract(epoch from " + std::string(column) + ") * 1000000)::bigint";
}

/// Prepared statement names and texts, registered on every new connection.
const std::vector<std::pair<std::string, std::string>>& statement_definitions() {
  static const std::vector<std::pair<std::string, std::string>> definitions{
    {"create_user",
     "INSERT INTO users (id, email, phone, created_at, updated_at)"
     " VALUES ($1, NULLIF($2, ''), NULLIF($3, ''), " + from_us("$4") + ", " + from_us("$4") + ")"},
    {"activate_user",
     "UPDATE users SET owner_epoch = owner_epoch + 1 WHERE id = $1"
     " RETURNING COALESCE(email, ''), COALESCE(phone, ''), " + to_us("created_at") +
     ", available, reserved, ledger_seq, owner_epoch"},
    {"recent_idempotency",
     "SELECT key, request_digest, status, response, " + to_us("created_at") +
     " FROM idempotency_keys WHERE user_id = $1 AND created_at >= " + from_us("$2") +
     " ORDER BY created_at DESC, key DESC LIMIT $3"},
    {"read_ledger",
     "SELECT id, seq, type, amount, available_after, reserved_after, reference, " + to_us("created_at") +
     " FROM ledger_entries WHERE user_id = $1 AND seq < $2 AND ($3::text IS NULL OR type = $3::text)"
     " ORDER BY seq DESC LIMIT $4"},
    {"find_idempotency",
     "SELECT request_digest, status, response, " + to_us("created_at") +
     " FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND created_at >= " + from_us("$3")},
    {"delete_idempotency_before",
     "DELETE FROM idempotency_keys WHERE created_at < " + from_us("$1")},
    // The batch travels as one array per column and is unnested server-side:
    // one round trip per table whatever the number of rows.
    {"commit_balances",
     "UPDATE users AS u SET available = w.available, reserved = w.reserved, ledger_seq = w.ledger_seq,"
     " updated_at = " + from_us("w.updated_at") +
     " FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])"
     " AS w (id, owner_epoch, available, reserved, ledger_seq, updated_at)"
     " WHERE u.id = w.id AND u.owner_epoch = w.owner_epoch RETURNING u.id"},
    {"commit_ledger",
     "INSERT INTO ledger_entries (user_id, seq, id, type, amount, available_after, reserved_after,"
     " reference, description, created_at)"
     " SELECT r.user_id, r.seq, r.id, r.type, r.amount, r.available_after, r.reserved_after,"
     " r.reference, r.description, " + from_us("r.created_at") +
     " FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::text[], $5::bigint[], $6::bigint[],"
     " $7::bigint[], $8::text[], $9::text[], $10::bigint[])"
     " AS r (user_id, seq, id, type, amount, available_after, reserved_after, reference, description,"
     " created_at)"},
    {"commit_idempotency",
     "INSERT INTO idempotency_keys (user_id, key, request_digest, status, response, created_at)"
     " SELECT r.user_id, r.key, r.request_digest, r.status, r.response, " + from_us("r.created_at") +
     " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::integer[], $5::bytea[], $6::bigint[])"
     " AS r (user_id, key, request_digest, status, response, created_at)"},
  };
  return definitions;
}

/// Builds the text form of a Postgres array ("{1,2}", "{\"a\",NULL}") for
/// one column of a batch.
class array_literal {
public:
  explicit array_literal(size_t elements_hint) {
    text_.reserve(2 + elements_hint * 40);
    text_ += '{';
  }
  void add(int64_t value) {
    separate();
    text_ += std::to_string(value);
  }
  void add(const uuid& id) {
    separate();
    text_ += to_string(id);
  }
  void add_text(std::string_view value) {
    separate();
    quote(value);
  }
  /// Empty text becomes NULL (the optional description).
  void add_text_or_null(std::string_view value) {
    if (!value.empty()) return add_text(value);
    separate();
    text_ += "NULL";
  }
  /// bytea in hex form: \x0a1b..., with the backslash escaped for the array.
  void add_bytes(std::string_view bytes) {
    static constexpr char hex[] = "0123456789abcdef";
    separate();
    text_ += "\"\\\\x";
    for (unsigned char byte : bytes) {
      text_ += hex[byte >> 4];
      text_ += hex[byte & 0x0f];
    }
    text_ += '"';
  }
  const std::string& finish() {
    text_ += '}';
    return text_;
  }

private:
  void separate() {
    if (text_.size() > 1) text_ += ',';
  }
  void quote(std::string_view value) {
    text_ += '"';
    for (char c : value) {
      if (c == '"' || c == '\\') text_ += '\\';
      text_ += c;
    }
    text_ += '"';
  }

  std::string text_;
};

/// A LIMIT that is one more than `n` without overflowing bigint.
int64_t limit_plus_one(size_t n) {
  constexpr auto most = static_cast<size_t>(std::numeric_limits<int64_t>::max() - 1);
  return static_cast<int64_t>(n < most ? n : most) + 1;
}

uuid uuid_from(const pqxx::field& field) {
  auto parsed = parse_uuid(std::string_view(field.c_str(), field.size()));
  if (!parsed) throw store_error(store_fault::permanent, "postgres: malformed uuid in a stored row");
  return *parsed;
}

std::string bytes_from(const pqxx::field& field) {
  return pqxx::binarystring(field).str();
}

/// SQLSTATEs after which this connection is unusable (class 08 connection
/// exceptions; server shutting down or starting; too many connections).
bool connection_lost_state(const std::string& state) {
  return state.compare(0, 2, "08") == 0 || state == "57P01" || state == "57P02" || state == "57P03" ||
         state == "53300";
}

/// SQLSTATEs worth retrying on the same connection: serialization failure,
/// deadlock, statement timeout / cancel.
bool retry_state(const std::string& state) {
  return state == "40001" || state == "40P01" || state == "57014";
}

/// Keeps the last write per user: the same result as applying them in order.
/// The writer already coalesces, so this normally copies nothing away.
std::vector<const balance_write*> last_write_per_user(const std::vector<balance_write>& writes) {
  std::vector<const balance_write*> kept;
  kept.reserve(writes.size());
  for (auto it = writes.rbegin(); it != writes.rend(); ++it) {
    bool seen = std::any_of(kept.begin(), kept.end(), [&](auto* w) { return w->user_id == it->user_id; });
    if (!seen) kept.push_back(&*it);
  }
  return kept;
}

} // namespace

struct postgres_store::session {
  explicit session(const std::string& url) : connection(url) {}
  pqxx::connection connection;
};

postgres_store::postgres_store(std::string url, int statement_timeout_ms)
    : url_(std::move(url)), statement_timeout_ms_(statement_timeout_ms) {
  try {
    connected();
  } catch (...) {
    fail("connect");
  }
}

postgres_store::~postgres_store() = default;

postgres_store::session& postgres_store::connected() {
  if (session_ && session_->connection.is_open()) return *session_;
  session_.reset();
  auto fresh = std::make_unique<session>(url_);
  // set_variable (not a raw SET) so libpqxx restores it if it ever
  // reactivates the connection by itself.
  fresh->connection.set_variable("statement_timeout", std::to_string(statement_timeout_ms_));
  for (const auto& [name, definition] : statement_definitions()) fresh->connection.prepare(name, definition);
  session_ = std::move(fresh);
  return *session_;
}

void postgres_store::fail(const char* operation) {
  auto fault = store_fault::permanent;
  bool connection_lost = false;
  std::string why;
  try {
    throw;
  } catch (const store_error&) {
    throw;
  } catch (const pqxx::broken_connection& e) {  // includes too_many_connections
    fault = store_fault::transient;
    connection_lost = true;
    why = e.what();
  } catch (const pqxx::in_doubt_error& e) {
    // The commit may or may not have happened; the connection is suspect.
    fault = store_fault::transient;
    connection_lost = true;
    why = e.what();
  } catch (const pqxx::transaction_rollback& e) {  // serialization, deadlock, completion unknown
    fault = store_fault::transient;
    why = e.what();
  } catch (const pqxx::sql_error& e) {
    const auto& state = e.sqlstate();
    connection_lost = connection_lost_state(state);
    // 23xxx (unique, check, foreign key) and everything else not listed:
    // the data or the statement is wrong, and retrying cannot fix it.
    fault = connection_lost || retry_state(state) ? store_fault::transient : store_fault::permanent;
    why = state + " " + e.what();
  } catch (const std::bad_alloc&) {
    fault = store_fault::transient;
    why = "out of memory";
  } catch (const std::exception& e) {
    // A conversion or usage error; transient only if the link died under it.
    connection_lost = session_ && !session_->connection.is_open();
    fault = connection_lost ? store_fault::transient : store_fault::permanent;
    why = e.what();
  } catch (...) {
    why = "unknown exception";
  }
  if (connection_lost) session_.reset();  // the next call reconnects
  while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
  throw store_error(fault, std::string("postgres: ") + operation + ": " + why);
}

void postgres_store::migrate() {
  try {
    auto& db = connected();
    for (const auto& step : migrations_for(sql_dialect::postgres)) {
      pqxx::work tx(db.connection);
      tx.exec("SET LOCAL statement_timeout = " + std::to_string(postgres_migration_timeout_ms));
      // Nodes starting together queue here; each one then sees the version
      // the previous one recorded and skips the step.
      tx.exec_params("SELECT pg_advisory_xact_lock($1)", postgres_migration_lock_key);
      tx.exec(schema_version_table_sql(sql_dialect::postgres));
      auto current = tx.exec1("SELECT COALESCE(MAX(version), 0) FROM schema_version")[0].as<int>();
      if (step.version > current) {
        tx.exec(step.sql);
        tx.exec_params("INSERT INTO schema_version (version) VALUES ($1)", step.version);
      }
      tx.commit();
    }
  } catch (...) {
    fail("migrate");
  }
}

void postgres_store::ping() {
  try {
    pqxx::nontransaction tx(connected().connection);
    tx.exec("SELECT 1");
  } catch (...) {
    fail("ping");
  }
}

void postgres_store::create_user(const user_row& user) {
  try {
    // A row without a creation time would claim 1970; stamp it now instead.
    timestamp_us created_at = user.created_at != 0 ? user.created_at : now_us();
    pqxx::work tx(connected().connection);
    tx.exec_prepared("create_user", to_string(user.id), user.email, user.phone, created_at);
    tx.commit();
  } catch (...) {
    fail("create_user");
  }
}

std::optional<user_snapshot> postgres_store::activate_user(const uuid& user, size_t recent_idempotency_max,
                                                           timestamp_us idempotency_since) {
  try {
    auto id = to_string(user);
    pqxx::work tx(connected().connection);
    auto bumped = tx.exec_prepared("activate_user", id);
    if (bumped.empty()) return std::nullopt;
    std::optional<user_snapshot> snapshot{user_snapshot{}};
    const auto& row = bumped[0];
    snapshot->user.id = user;
    snapshot->user.email = row[0].as<std::string>();
    snapshot->user.phone = row[1].as<std::string>();
    snapshot->user.created_at = row[2].as<int64_t>();
    snapshot->bal.available = row[3].as<int64_t>();
    snapshot->bal.reserved = row[4].as<int64_t>();
    snapshot->ledger_seq = row[5].as<int64_t>();
    snapshot->owner_epoch = row[6].as<int64_t>();
    auto recent = tx.exec_prepared("recent_idempotency", id, idempotency_since,
                                   limit_plus_one(recent_idempotency_max));
    for (const auto& record : recent) {
      if (snapshot->recent_idempotency.size() == recent_idempotency_max) {
        snapshot->older_idempotency_in_store = true;
        break;
      }
      snapshot->recent_idempotency.push_back(idempotency_record{
        user, record[0].as<std::string>(), record[1].as<std::string>(), record[2].as<int>(),
        bytes_from(record[3]), record[4].as<int64_t>()});
    }
    tx.commit();
    return snapshot;
  } catch (...) {
    fail("activate_user");
  }
}

ledger_page postgres_store::read_ledger(const uuid& user, const ledger_query& query) {
  try {
    ledger_page page;
    if (query.limit <= 0) return page;
    std::string type = query.type ? std::string(to_string(*query.type)) : std::string{};
    pqxx::nontransaction tx(connected().connection);
    auto rows = tx.exec_prepared("read_ledger", to_string(user),
                                 query.before_seq.value_or(std::numeric_limits<int64_t>::max()),
                                 query.type ? type.c_str() : nullptr,
                                 int64_t{query.limit} + 1);  // one extra row tells whether more exist
    for (const auto& row : rows) {
      if (page.entries.size() == static_cast<size_t>(query.limit)) {
        page.next_before_seq = page.entries.back().seq;
        break;
      }
      auto entry_type = parse_ledger_type(row[2].c_str());
      if (!entry_type) throw store_error(store_fault::permanent, "postgres: unknown ledger type in a stored row");
      page.entries.push_back(ledger_entry{uuid_from(row[0]), row[1].as<int64_t>(), *entry_type,
                                          row[3].as<int64_t>(), row[4].as<int64_t>(), row[5].as<int64_t>(),
                                          row[6].as<std::string>(), row[7].as<int64_t>()});
    }
    return page;
  } catch (...) {
    fail("read_ledger");
  }
}

std::optional<idempotency_record> postgres_store::find_idempotency(const uuid& user, const std::string& key,
                                                                   timestamp_us since) {
  try {
    pqxx::nontransaction tx(connected().connection);
    auto rows = tx.exec_prepared("find_idempotency", to_string(user), key, since);
    if (rows.empty()) return std::nullopt;
    const auto& row = rows[0];
    return idempotency_record{user, key, row[0].as<std::string>(), row[1].as<int>(), bytes_from(row[2]),
                              row[3].as<int64_t>()};
  } catch (...) {
    fail("find_idempotency");
  }
}

void postgres_store::commit(const write_batch& batch) {
  if (batch.empty()) return;
  try {
    pqxx::work tx(connected().connection);
    const auto balances = last_write_per_user(batch.balances);
    for (size_t done = 0; done < balances.size();) {
      size_t count = std::min(balances.size() - done, postgres_rows_per_statement_max);
      array_literal ids(count), epochs(count), available(count), reserved(count), seqs(count), updated(count);
      for (size_t i = done; i < done + count; ++i) {
        const auto& write = *balances[i];
        ids.add(write.user_id);
        epochs.add(write.owner_epoch);
        available.add(write.bal.available);
        reserved.add(write.bal.reserved);
        seqs.add(write.ledger_seq);
        updated.add(write.updated_at);
      }
      auto applied = tx.exec_prepared("commit_balances", ids.finish(), epochs.finish(), available.finish(),
                                      reserved.finish(), seqs.finish(), updated.finish());
      if (applied.size() != count) {
        // Name one fenced user for the log; the transaction rolls back.
        std::string fenced_user;
        for (size_t i = done; i < done + count && fenced_user.empty(); ++i) {
          auto id = to_string(balances[i]->user_id);
          bool found = std::any_of(applied.begin(), applied.end(),
                                   [&](const auto& row) { return id == row[0].c_str(); });
          if (!found) fenced_user = id;
        }
        throw store_error(store_fault::fenced,
                          "postgres: user " + fenced_user + " is not at the expected owner epoch");
      }
      done += count;
    }
    for (size_t done = 0; done < batch.ledger.size();) {
      size_t count = std::min(batch.ledger.size() - done, postgres_rows_per_statement_max);
      array_literal users(count), seqs(count), ids(count), types(count), amounts(count), available(count),
        reserved(count), references(count), descriptions(count), created(count);
      for (size_t i = done; i < done + count; ++i) {
        const auto& row = batch.ledger[i];
        users.add(row.user_id);
        seqs.add(row.entry.seq);
        ids.add(row.entry.id);
        types.add_text(to_string(row.entry.type));
        amounts.add(row.entry.amount);
        available.add(row.entry.available_after);
        reserved.add(row.entry.reserved_after);
        references.add_text(row.entry.reference);
        descriptions.add_text_or_null(row.description);
        created.add(row.entry.created_at);
      }
      tx.exec_prepared("commit_ledger", users.finish(), seqs.finish(), ids.finish(), types.finish(),
                       amounts.finish(), available.finish(), reserved.finish(), references.finish(),
                       descriptions.finish(), created.finish());
      done += count;
    }
    for (size_t done = 0; done < batch.idempotency.size();) {
      size_t count = std::min(batch.idempotency.size() - done, postgres_rows_per_statement_max);
      array_literal users(count), keys(count), digests(count), statuses(count), responses(count),
        created(count);
      for (size_t i = done; i < done + count; ++i) {
        const auto& row = batch.idempotency[i];
        users.add(row.user_id);
        keys.add_text(row.key);
        digests.add_text(row.request_digest);
        statuses.add(int64_t{row.status});
        responses.add_bytes(row.response);
        created.add(row.created_at);
      }
      tx.exec_prepared("commit_idempotency", users.finish(), keys.finish(), digests.finish(),
                       statuses.finish(), responses.finish(), created.finish());
      done += count;
    }
    tx.commit();
  } catch (...) {
    fail("commit");
  }
}

size_t postgres_store::delete_idempotency_before(timestamp_us before) {
  try {
    pqxx::work tx(connected().connection);
    auto deleted = tx.exec_prepared("delete_idempotency_before", before);
    tx.commit();
    return deleted.affected_rows();
  } catch (...) {
    fail("delete_idempotency_before");
  }
}

} // namespace tally
