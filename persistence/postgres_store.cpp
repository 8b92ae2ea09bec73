#include "persistence/postgres_store.hpp"

#include <pqxx/pqxx>

#include <boost/uuid/uuid_hash.hpp>

#include <algorithm>
#include <limits>
#include <new>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "persistence/auth_columns.hpp"
#include "persistence/coalesce_key.hpp"
#include "persistence/migrations.hpp"
#include "persistence/shard_fence.hpp"
#include "protocols/cluster.hpp"
#include "protocols/tenants.hpp"

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

/// The columns of a generation row, as generation_from reads them.
std::string generation_columns() {
  return "id, user_id, model_id, price, prompt, params, status, COALESCE(result_url, ''), COALESCE(error, ''),"
         " COALESCE(idempotency_key, ''), " + to_us("created_at") + ", " + to_us("updated_at") + ", " +
         to_us("timeout_at");
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
    // Batched reads: one array per column, unnested server-side, so a whole
    // reader batch costs one round trip. `ord` maps rows back to requests.
    {"find_idempotency_many",
     "SELECT q.ord, k.request_digest, k.status, k.response, " + to_us("k.created_at") +
     " FROM unnest($1::uuid[], $2::text[], $3::bigint[]) WITH ORDINALITY AS q (user_id, key, since, ord)"
     " JOIN idempotency_keys AS k ON k.user_id = q.user_id AND k.key = q.key"
     " WHERE k.created_at >= " + from_us("q.since")},
    {"activate_users",
     "UPDATE users SET owner_epoch = owner_epoch + 1 WHERE id = ANY($1::uuid[])"
     " RETURNING id, COALESCE(email, ''), COALESCE(phone, ''), " + to_us("created_at") +
     ", available, reserved, ledger_seq, owner_epoch"},
    {"recent_idempotency_many",
     "SELECT q.ord, k.key, k.request_digest, k.status, k.response, " + to_us("k.created_at") +
     " FROM unnest($1::uuid[], $2::bigint[], $3::bigint[]) WITH ORDINALITY AS q (user_id, since, lim, ord)"
     " CROSS JOIN LATERAL (SELECT key, request_digest, status, response, created_at FROM idempotency_keys"
     " WHERE user_id = q.user_id AND created_at >= " + from_us("q.since") +
     " ORDER BY created_at DESC, key DESC LIMIT q.lim) AS k"
     " ORDER BY q.ord, k.created_at DESC, k.key DESC"},
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
    // -- auth --
    {"activate_identity_insert",
     // The users lookup links a user made by `tally create-user`.
     "INSERT INTO identities (id, kind, value, user_id, created_at)"
     " VALUES ($1::uuid, $2::text, $3::text, CASE $2::text WHEN 'email'"
     " THEN (SELECT id FROM users WHERE email = $3::text) ELSE (SELECT id FROM users WHERE phone = $3::text) END, " +
     from_us("$4") + ") ON CONFLICT DO NOTHING"},
    {"activate_identity_bump",
     // A row created before its user was (a link requested, then the
     // operator ran create-user) links now: otherwise the first login would
     // try to create a second user with the same email.
     "UPDATE identities SET owner_epoch = owner_epoch + 1, user_id = COALESCE(user_id,"
     " CASE kind WHEN 'email' THEN (SELECT u.id FROM users AS u WHERE u.email = identities.value)"
     " ELSE (SELECT u.id FROM users AS u WHERE u.phone = identities.value) END)"
     " WHERE id = $1 RETURNING kind, value, user_id, " + to_us("request_limit_tat") + ", owner_epoch, " +
     to_us("created_at")},
    {"known_identities",
     "SELECT q.ord FROM unnest($1::uuid[]) WITH ORDINALITY AS q (id, ord)"
     " JOIN identities AS i ON i.id = q.id"},
    {"find_login_code",
     "SELECT code_hash, " + to_us("created_at") + ", " + to_us("expires_at") + ", failures, " +
     to_us("next_attempt_at") + ", locked FROM login_codes WHERE identity_id = $1"},
    {"find_magic_link",
     "SELECT identity_id, " + to_us("created_at") + ", " + to_us("expires_at") + ", COALESCE(" +
     to_us("used_at") + ", 0) FROM magic_links WHERE token_hash = $1"},
    {"find_session",
     "SELECT id, user_id, refresh_hash, COALESCE(previous_refresh_hash, ''), COALESCE(" + to_us("rotated_at") +
     ", 0), " + to_us("created_at") + ", " + to_us("expires_at") + ", COALESCE(" + to_us("revoked_at") +
     ", 0) FROM sessions WHERE id = $2 AND user_id = $1"},
    {"find_refresh_token",
     "SELECT session_id, user_id, " + to_us("issued_at") + " FROM refresh_tokens WHERE token_hash = $1"},
    {"create_session",
     "INSERT INTO sessions (id, user_id, refresh_hash, previous_refresh_hash, rotated_at, created_at,"
     " expires_at, revoked_at) SELECT $1::uuid, $2::uuid, $3::text, NULLIF($4::text, ''), " +
     from_us("NULLIF($5::bigint, 0)") + ", " + from_us("$6") + ", " + from_us("$7") + ", " +
     from_us("NULLIF($8::bigint, 0)") + " WHERE EXISTS (SELECT 1 FROM users WHERE id = $2::uuid)"},
    {"create_refresh_token",
     "INSERT INTO refresh_tokens (token_hash, session_id, user_id, issued_at) VALUES ($1, $2, $3, " +
     from_us("$4") + ")"},
    {"delete_expired_magic_links", "DELETE FROM magic_links WHERE expires_at < " + from_us("$1")},
    {"delete_expired_login_codes", "DELETE FROM login_codes WHERE expires_at < " + from_us("$1")},
    // Tokens first: they are found through the sessions about to go.
    {"delete_expired_refresh_tokens",
     "DELETE FROM refresh_tokens WHERE session_id IN (SELECT id FROM sessions WHERE expires_at < " +
     from_us("$1") + " OR revoked_at < " + from_us("$1") + ")"},
    {"delete_expired_sessions",
     "DELETE FROM sessions WHERE expires_at < " + from_us("$1") + " OR revoked_at < " + from_us("$1")},
    {"commit_new_users",
     "INSERT INTO users (id, email, phone, created_at, updated_at)"
     " SELECT r.id, r.email, r.phone, " + from_us("r.created_at") + ", " + from_us("r.created_at") +
     " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::bigint[]) AS r (id, email, phone, created_at)"},
    // kind, value and created_at never change after the insert.
    {"commit_identities",
     "UPDATE identities AS i SET user_id = w.user_id, request_limit_tat = " + from_us("w.request_limit_tat") +
     " FROM unnest($1::uuid[], $2::bigint[], $3::uuid[], $4::bigint[])"
     " AS w (id, owner_epoch, user_id, request_limit_tat)"
     " WHERE i.id = w.id AND i.owner_epoch = w.owner_epoch RETURNING i.id"},
    {"commit_magic_links",
     "INSERT INTO magic_links (token_hash, identity_id, created_at, expires_at, used_at)"
     " SELECT r.token_hash, r.identity_id, " + from_us("r.created_at") + ", " + from_us("r.expires_at") + ", " +
     from_us("r.used_at") +
     " FROM unnest($1::text[], $2::uuid[], $3::bigint[], $4::bigint[], $5::bigint[])"
     " AS r (token_hash, identity_id, created_at, expires_at, used_at)"
     " ON CONFLICT (token_hash) DO UPDATE SET identity_id = excluded.identity_id,"
     " created_at = excluded.created_at, expires_at = excluded.expires_at, used_at = excluded.used_at"},
    {"commit_login_codes",
     "INSERT INTO login_codes (identity_id, code_hash, created_at, expires_at, failures, next_attempt_at, locked)"
     " SELECT r.identity_id, r.code_hash, " + from_us("r.created_at") + ", " + from_us("r.expires_at") +
     ", r.failures, " + from_us("r.next_attempt_at") + ", r.locked"
     " FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::bigint[], $5::integer[], $6::bigint[],"
     " $7::boolean[]) AS r (identity_id, code_hash, created_at, expires_at, failures, next_attempt_at, locked)"
     " ON CONFLICT (identity_id) DO UPDATE SET code_hash = excluded.code_hash,"
     " created_at = excluded.created_at, expires_at = excluded.expires_at, failures = excluded.failures,"
     " next_attempt_at = excluded.next_attempt_at, locked = excluded.locked"},
    {"commit_sessions",
     "INSERT INTO sessions (id, user_id, refresh_hash, previous_refresh_hash, rotated_at, created_at,"
     " expires_at, revoked_at)"
     " SELECT r.id, r.user_id, r.refresh_hash, r.previous_refresh_hash, " + from_us("r.rotated_at") + ", " +
     from_us("r.created_at") + ", " + from_us("r.expires_at") + ", " + from_us("r.revoked_at") +
     " FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],"
     " $8::bigint[]) AS r (id, user_id, refresh_hash, previous_refresh_hash, rotated_at, created_at, expires_at,"
     " revoked_at)"
     " ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, refresh_hash = excluded.refresh_hash,"
     " previous_refresh_hash = excluded.previous_refresh_hash, rotated_at = excluded.rotated_at,"
     " created_at = excluded.created_at, expires_at = excluded.expires_at, revoked_at = excluded.revoked_at"},
    {"commit_refresh_tokens",
     "INSERT INTO refresh_tokens (token_hash, session_id, user_id, issued_at)"
     " SELECT r.token_hash, r.session_id, r.user_id, " + from_us("r.issued_at") +
     " FROM unnest($1::text[], $2::uuid[], $3::uuid[], $4::bigint[]) AS r (token_hash, session_id, user_id,"
     " issued_at)"},
    {"commit_outbox",
     "INSERT INTO outbox (id, channel, destination, body, created_at)"
     " SELECT r.id, r.channel, r.destination, r.body, " + from_us("r.created_at") +
     " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[])"
     " AS r (id, channel, destination, body, created_at)"},
    {"commit_audit",
     "INSERT INTO audit_log (id, created_at, event, request_id, user_id, session_id, client_ip, detail)"
     " SELECT r.id, " + from_us("r.created_at") + ", r.event, r.request_id, r.user_id, r.session_id,"
     " r.client_ip, r.detail"
     " FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::text[],"
     " $8::text[]) AS r (id, created_at, event, request_id, user_id, session_id, client_ip, detail)"},
    // Generations (issue 10): upserted by id, read by owner.
    {"commit_generations",
     "INSERT INTO generations (id, user_id, model_id, price, prompt, params, status, result_url, error,"
     " idempotency_key, created_at, updated_at, timeout_at)"
     " SELECT r.id, r.user_id, r.model_id, r.price, r.prompt, r.params, r.status, r.result_url, r.error,"
     " r.idempotency_key, " + from_us("r.created_at") + ", " + from_us("r.updated_at") + ", " +
     from_us("r.timeout_at") +
     " FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[],"
     " $8::text[], $9::text[], $10::text[], $11::bigint[], $12::bigint[], $13::bigint[])"
     " AS r (id, user_id, model_id, price, prompt, params, status, result_url, error, idempotency_key,"
     " created_at, updated_at, timeout_at)"
     " ON CONFLICT (id) DO UPDATE SET status = excluded.status, result_url = excluded.result_url,"
     " error = excluded.error, updated_at = excluded.updated_at"},
    {"find_active_generations",
     "SELECT " + generation_columns() +
     " FROM generations WHERE user_id = ANY($1::uuid[]) AND status IN ('pending', 'processing')"
     " ORDER BY created_at, id"},
    {"find_generation",
     "SELECT " + generation_columns() + " FROM generations WHERE id = $1 AND user_id = $2"},
    {"read_generations",
     "SELECT " + generation_columns() +
     " FROM generations WHERE user_id = $1 AND ($2::text IS NULL OR status = $2::text)"
     " AND (NOT $3::boolean OR status IN ('pending', 'processing'))"
     " AND ($4::bigint IS NULL OR (created_at, id) < (" + from_us("$4::bigint") + ", $5::uuid))"
     " ORDER BY created_at DESC, id DESC LIMIT $6"},
    {"users_with_generations_due",
     "SELECT DISTINCT user_id FROM generations WHERE status IN ('pending', 'processing')"
     " AND timeout_at <= " + from_us("$1") + " LIMIT $2"},
    // -- payment webhooks (rare rows: one statement per row) --
    {"find_webhook_event",
     "SELECT event_id, type, status, deliveries, " + to_us("first_seen_at") + ", COALESCE(" +
     to_us("processed_at") + ", 0) FROM webhook_events WHERE id = $1"},
    {"find_payment",
     "SELECT object_id, user_id, credits, event_id, " + to_us("created_at") + " FROM payments WHERE id = $1"},
    {"delete_webhook_events_before",
     "DELETE FROM webhook_events WHERE first_seen_at < " + from_us("$1")},
    // A monotone merge (protocols/webhook.hpp): the event's entity and the
    // user's top-up both write this row, and neither may undo the other.
    {"commit_webhook_event",
     "INSERT INTO webhook_events (id, event_id, type, status, deliveries, first_seen_at, processed_at)"
     " VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::bigint, " + from_us("$6") + ", " +
     from_us("NULLIF($7::bigint, 0)") + ") ON CONFLICT (id) DO UPDATE SET"
     " status = CASE WHEN webhook_events.status = 'processed' THEN 'processed' ELSE excluded.status END,"
     " deliveries = GREATEST(webhook_events.deliveries, excluded.deliveries),"
     " first_seen_at = LEAST(webhook_events.first_seen_at, excluded.first_seen_at),"
     " processed_at = COALESCE(webhook_events.processed_at, excluded.processed_at)"},
    // A plain INSERT: a second row for one object violates the primary key
    // and fails the whole batch (the store's guard against a second top-up).
    {"commit_payment",
     "INSERT INTO payments (id, object_id, user_id, credits, event_id, created_at)"
     " VALUES ($1::uuid, $2::text, $3::uuid, $4::bigint, $5::text, " + from_us("$6") + ")"},
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
  /// The nil uuid becomes NULL (no user, no session).
  void add_or_null(const uuid& id) {
    if (!id.is_nil()) return add(id);
    separate();
    text_ += "NULL";
  }
  /// A timestamp of 0 ("never") becomes NULL.
  void add_time_or_null(timestamp_us at) {
    if (at != 0) return add(at);
    separate();
    text_ += "NULL";
  }
  void add_bool(bool value) {
    separate();
    text_ += value ? "t" : "f";
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

/// Keeps the last row per key, the same result as applying them in order:
/// one UPDATE .. FROM unnest() row per target row (a second one would be
/// applied unpredictably), one ON CONFLICT DO UPDATE per key (Postgres
/// refuses to touch a row twice in one statement). The write queue already
/// coalesces, so this normally drops nothing.
template <class Row>
std::vector<const Row*> last_per_key(const std::vector<Row>& rows) {
  using key = coalesce_key_t<Row>;
  std::vector<const Row*> kept;
  kept.reserve(rows.size());
  std::unordered_set<key, coalesce_key_hash<key>> seen;
  seen.reserve(rows.size());
  for (auto it = rows.rbegin(); it != rows.rend(); ++it)
    if (seen.insert(coalesce_key(*it)).second) kept.push_back(&*it);
  std::reverse(kept.begin(), kept.end());
  return kept;
}

/// Calls `send(first, count)` for consecutive runs of at most
/// postgres_rows_per_statement_max of `rows` rows.
template <class Send>
void in_chunks(size_t rows, Send&& send) {
  for (size_t done = 0; done < rows;) {
    size_t count = std::min(rows - done, postgres_rows_per_statement_max);
    send(done, count);
    done += count;
  }
}

/// Throws store_error(fenced) naming the first of `ids` that `applied`
/// (the RETURNING id rows of a conditional UPDATE) lacks.
[[noreturn]] void throw_fenced(const char* what, const std::vector<std::string>& ids, const pqxx::result& applied) {
  std::string fenced;
  for (const auto& id : ids) {
    bool found = std::any_of(applied.begin(), applied.end(), [&](const auto& row) { return id == row[0].c_str(); });
    if (!found) {
      fenced = id;
      break;
    }
  }
  throw store_error(store_fault::fenced,
                    std::string("postgres: ") + what + " " + fenced + " is not at the expected owner epoch");
}

// -- one writer per record type -------------------------------------------------
//
// commit() calls write_rows once per vector of write_batch's field list, in
// its order; a record type without an overload here does not compile. Each
// writer sends its rows as arrays, postgres_rows_per_statement_max at a
// time; those written by key keep the last row per key (coalesce_key.hpp).

void write_rows(pqxx::work& tx, const std::vector<user_row>& users) {
  in_chunks(users.size(), [&](size_t first, size_t count) {
    array_literal ids(count), emails(count), phones(count), created(count);
    for (size_t i = first; i < first + count; ++i) {
      const auto& user = users[i];
      ids.add(user.id);
      emails.add_text_or_null(user.email);
      phones.add_text_or_null(user.phone);
      // A row without a creation time would claim 1970; stamp it now instead.
      created.add(user.created_at != 0 ? user.created_at : now_us());
    }
    tx.exec_prepared("commit_new_users", ids.finish(), emails.finish(), phones.finish(), created.finish());
  });
}

void write_rows(pqxx::work& tx, const std::vector<balance_write>& writes) {
  const auto balances = last_per_key(writes);
  in_chunks(balances.size(), [&](size_t first, size_t count) {
    array_literal ids(count), epochs(count), available(count), reserved(count), seqs(count), updated(count);
    for (size_t i = first; i < first + count; ++i) {
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
      std::vector<std::string> sent;
      for (size_t i = first; i < first + count; ++i) sent.push_back(to_string(balances[i]->user_id));
      throw_fenced("user", sent, applied);
    }
  });
}

void write_rows(pqxx::work& tx, const std::vector<identity_row>& rows) {
  const auto identities = last_per_key(rows);
  in_chunks(identities.size(), [&](size_t first, size_t count) {
    array_literal ids(count), epochs(count), users(count), tats(count);
    for (size_t i = first; i < first + count; ++i) {
      const auto& identity = *identities[i];
      ids.add(identity.id);
      epochs.add(identity.owner_epoch);
      users.add_or_null(identity.user_id);
      tats.add(identity.request_limit_tat);
    }
    auto applied =
      tx.exec_prepared("commit_identities", ids.finish(), epochs.finish(), users.finish(), tats.finish());
    if (applied.size() != count) {
      std::vector<std::string> sent;
      for (size_t i = first; i < first + count; ++i) sent.push_back(to_string(identities[i]->id));
      throw_fenced("identity", sent, applied);
    }
  });
}

void write_rows(pqxx::work& tx, const std::vector<ledger_write>& rows) {
  in_chunks(rows.size(), [&](size_t first, size_t count) {
    array_literal users(count), seqs(count), ids(count), types(count), amounts(count), available(count),
      reserved(count), references(count), descriptions(count), created(count);
    for (size_t i = first; i < first + count; ++i) {
      const auto& row = rows[i];
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
  });
}

void write_rows(pqxx::work& tx, const std::vector<idempotency_record>& rows) {
  in_chunks(rows.size(), [&](size_t first, size_t count) {
    array_literal users(count), keys(count), digests(count), statuses(count), responses(count), created(count);
    for (size_t i = first; i < first + count; ++i) {
      const auto& row = rows[i];
      users.add(row.user_id);
      keys.add_text(row.key);
      digests.add_text(row.request_digest);
      statuses.add(int64_t{row.status});
      responses.add_bytes(row.response);
      created.add(row.created_at);
    }
    tx.exec_prepared("commit_idempotency", users.finish(), keys.finish(), digests.finish(), statuses.finish(),
                     responses.finish(), created.finish());
  });
}

void write_rows(pqxx::work& tx, const std::vector<magic_link_row>& rows) {
  const auto links = last_per_key(rows);
  in_chunks(links.size(), [&](size_t first, size_t count) {
    array_literal hashes(count), identities(count), created(count), expires(count), used(count);
    for (size_t i = first; i < first + count; ++i) {
      const auto& link = *links[i];
      hashes.add_text(link.token_hash);
      identities.add(link.identity_id);
      created.add(link.created_at);
      expires.add(link.expires_at);
      used.add_time_or_null(link.used_at);
    }
    tx.exec_prepared("commit_magic_links", hashes.finish(), identities.finish(), created.finish(),
                     expires.finish(), used.finish());
  });
}

void write_rows(pqxx::work& tx, const std::vector<login_code_row>& rows) {
  const auto codes = last_per_key(rows);
  in_chunks(codes.size(), [&](size_t first, size_t count) {
    array_literal identities(count), hashes(count), created(count), expires(count), failures(count),
      next_attempt(count), locked(count);
    for (size_t i = first; i < first + count; ++i) {
      const auto& code = *codes[i];
      identities.add(code.identity_id);
      hashes.add_text(code.code_hash);
      created.add(code.created_at);
      expires.add(code.expires_at);
      failures.add(int64_t{code.failures});
      next_attempt.add(code.next_attempt_at);
      locked.add_bool(code.locked);
    }
    tx.exec_prepared("commit_login_codes", identities.finish(), hashes.finish(), created.finish(),
                     expires.finish(), failures.finish(), next_attempt.finish(), locked.finish());
  });
}

void write_rows(pqxx::work& tx, const std::vector<session_row>& rows) {
  const auto sessions = last_per_key(rows);
  in_chunks(sessions.size(), [&](size_t first, size_t count) {
    array_literal ids(count), users(count), hashes(count), previous(count), rotated(count), created(count),
      expires(count), revoked(count);
    for (size_t i = first; i < first + count; ++i) {
      const auto& session = *sessions[i];
      ids.add(session.id);
      users.add(session.user_id);
      hashes.add_text(session.refresh_hash);
      previous.add_text_or_null(session.previous_refresh_hash);
      rotated.add_time_or_null(session.rotated_at);
      created.add(session.created_at);
      expires.add(session.expires_at);
      revoked.add_time_or_null(session.revoked_at);
    }
    tx.exec_prepared("commit_sessions", ids.finish(), users.finish(), hashes.finish(), previous.finish(),
                     rotated.finish(), created.finish(), expires.finish(), revoked.finish());
  });
}

void write_rows(pqxx::work& tx, const std::vector<refresh_token_row>& rows) {
  in_chunks(rows.size(), [&](size_t first, size_t count) {
    array_literal hashes(count), sessions(count), users(count), issued(count);
    for (size_t i = first; i < first + count; ++i) {
      const auto& token = rows[i];
      hashes.add_text(token.token_hash);
      sessions.add(token.session_id);
      users.add(token.user_id);
      issued.add(token.issued_at);
    }
    tx.exec_prepared("commit_refresh_tokens", hashes.finish(), sessions.finish(), users.finish(),
                     issued.finish());
  });
}

void write_rows(pqxx::work& tx, const std::vector<outbox_row>& rows) {
  in_chunks(rows.size(), [&](size_t first, size_t count) {
    array_literal ids(count), channels(count), destinations(count), bodies(count), created(count);
    for (size_t i = first; i < first + count; ++i) {
      const auto& message = rows[i];
      ids.add(message.id);
      channels.add_text(message.channel);
      destinations.add_text(message.destination);
      bodies.add_text(message.body);
      created.add(message.created_at);
    }
    tx.exec_prepared("commit_outbox", ids.finish(), channels.finish(), destinations.finish(), bodies.finish(),
                     created.finish());
  });
}

void write_rows(pqxx::work& tx, const std::vector<audit_row>& rows) {
  in_chunks(rows.size(), [&](size_t first, size_t count) {
    array_literal ids(count), created(count), events(count), requests(count), users(count), sessions(count),
      ips(count), details(count);
    for (size_t i = first; i < first + count; ++i) {
      const auto& line = rows[i];
      ids.add(line.id);
      created.add(line.created_at);
      events.add_text(line.event);
      requests.add_text(line.request_id);
      users.add_or_null(line.user_id);
      sessions.add_or_null(line.session_id);
      ips.add_text(line.client_ip);
      details.add_text(line.detail);
    }
    tx.exec_prepared("commit_audit", ids.finish(), created.finish(), events.finish(), requests.finish(),
                     users.finish(), sessions.finish(), ips.finish(), details.finish());
  });
}

void write_rows(pqxx::work& tx, const std::vector<generation_row>& rows) {
  const auto generations = last_per_key(rows);
  in_chunks(generations.size(), [&](size_t first, size_t count) {
    array_literal ids(count), users(count), models(count), prices(count), prompts(count), params(count),
      statuses(count), urls(count), errors(count), keys(count), created(count), updated(count), timeouts(count);
    for (size_t i = first; i < first + count; ++i) {
      const auto& row = *generations[i];
      ids.add(row.id);
      users.add(row.user_id);
      models.add_text(row.model_id);
      prices.add(row.price);
      prompts.add_text(row.prompt);
      params.add_text(row.params_json);
      statuses.add_text(to_string(row.status));
      urls.add_text_or_null(row.result_url);
      errors.add_text_or_null(row.error);
      keys.add_text_or_null(row.idempotency_key);
      created.add(row.created_at);
      updated.add(row.updated_at);
      timeouts.add(row.timeout_at);
    }
    tx.exec_prepared("commit_generations", ids.finish(), users.finish(), models.finish(), prices.finish(),
                     prompts.finish(), params.finish(), statuses.finish(), urls.finish(), errors.finish(),
                     keys.finish(), created.finish(), updated.finish(), timeouts.finish());
  });
}

generation_row generation_from(const pqxx::row& row) {
  auto status = parse_generation_status(row[6].c_str());
  if (!status) throw store_error(store_fault::permanent, "postgres: unknown generation status in a stored row");
  return generation_row{uuid_from(row[0]),        uuid_from(row[1]),         row[2].as<std::string>(),
                        row[3].as<int64_t>(),     row[4].as<std::string>(),  row[5].as<std::string>(),
                        *status,                  row[7].as<std::string>(),  row[8].as<std::string>(),
                        row[9].as<std::string>(), row[10].as<int64_t>(),     row[11].as<int64_t>(),
                        row[12].as<int64_t>()};
}

// Tenants (defined at the end of this file, with the tenant reads).
void write_rows(pqxx::work& tx, const std::vector<tenant_row>& rows);
void write_rows(pqxx::work& tx, const std::vector<tenant_member_row>& rows);
void write_rows(pqxx::work& tx, const std::vector<subdomain_write>& rows);
void write_rows(pqxx::work& tx, const std::vector<subscription_row>& rows);

void write_rows(pqxx::work& tx, const std::vector<webhook_event_row>& rows) {
  for (const auto& event : rows)
    tx.exec_prepared("commit_webhook_event", to_string(event.id), event.event_id, event.type,
                     std::string(to_string(event.status)), event.deliveries, event.first_seen_at,
                     event.processed_at);
}

void write_rows(pqxx::work& tx, const std::vector<payment_row>& rows) {
  for (const auto& payment : rows)
    tx.exec_prepared("commit_payment", to_string(payment.id), payment.object_id, to_string(payment.user_id),
                     payment.credits, payment.event_id, payment.created_at);
}

/// A nullable uuid column: NULL reads as the nil uuid.
uuid uuid_or_nil_from(const pqxx::field& field) {
  return field.is_null() ? uuid{} : uuid_from(field);
}

session_row session_from(const pqxx::row& row) {
  return session_row{uuid_from(row[0]),        uuid_from(row[1]),        row[2].as<std::string>(),
                     row[3].as<std::string>(), row[4].as<int64_t>(),     row[5].as<int64_t>(),
                     row[6].as<int64_t>(),     row[7].as<int64_t>()};
}

user_snapshot snapshot_from(const uuid& user, const pqxx::row& row, int first_column) {
  user_snapshot snapshot;
  snapshot.user.id = user;
  snapshot.user.email = row[first_column].as<std::string>();
  snapshot.user.phone = row[first_column + 1].as<std::string>();
  snapshot.user.created_at = row[first_column + 2].as<int64_t>();
  snapshot.bal.available = row[first_column + 3].as<int64_t>();
  snapshot.bal.reserved = row[first_column + 4].as<int64_t>();
  snapshot.ledger_seq = row[first_column + 5].as<int64_t>();
  snapshot.owner_epoch = row[first_column + 6].as<int64_t>();
  return snapshot;
}

/// Adds one stored record (key, digest, status, response, created_at from
/// `first_column` on) unless the snapshot is full, which marks older keys.
void add_recent(user_snapshot& snapshot, size_t recent_max, const pqxx::row& row, int first_column) {
  if (snapshot.recent_idempotency.size() == recent_max) {
    snapshot.older_idempotency_in_store = true;
    return;
  }
  snapshot.recent_idempotency.push_back(idempotency_record{
    snapshot.user.id, row[first_column].as<std::string>(), row[first_column + 1].as<std::string>(),
    row[first_column + 2].as<int>(), bytes_from(row[first_column + 3]), row[first_column + 4].as<int64_t>()});
}

/// One activation inside `tx`: the epoch bump, then the newest keys.
std::optional<user_snapshot> activate_one(pqxx::work& tx, const activation_request& request) {
  auto id = to_string(request.user);
  auto bumped = tx.exec_prepared("activate_user", id);
  if (bumped.empty()) return std::nullopt;
  std::optional<user_snapshot> snapshot{snapshot_from(request.user, bumped[0], 0)};
  auto recent = tx.exec_prepared("recent_idempotency", id, request.idempotency_since,
                                 limit_plus_one(request.recent_idempotency_max));
  for (const auto& record : recent) {
    add_recent(*snapshot, request.recent_idempotency_max, record, 0);
    if (snapshot->older_idempotency_in_store) break;
  }
  return snapshot;
}

/// Activates requests [first, first + count) of distinct users inside `tx`
/// with two statements: one epoch bump for all, one read of their keys.
void activate_chunk(pqxx::work& tx, const std::vector<activation_request>& requests, size_t first,
                    size_t count, std::vector<std::optional<user_snapshot>>& loaded) {
  array_literal ids(count);
  std::unordered_map<uuid, size_t> index_of;
  for (size_t i = first; i < first + count; ++i) {
    ids.add(requests[i].user);
    index_of.emplace(requests[i].user, i);
  }
  auto bumped = tx.exec_prepared("activate_users", ids.finish());
  if (bumped.empty()) return;
  array_literal users(bumped.size()), since(bumped.size()), limits(bumped.size());
  std::vector<size_t> found;  // request index of each bumped row, in query order
  found.reserve(bumped.size());
  for (const auto& row : bumped) {
    auto user = uuid_from(row[0]);
    auto at = index_of.find(user);
    if (at == index_of.end()) throw store_error(store_fault::permanent, "postgres: activated an unasked user");
    const auto& request = requests[at->second];
    loaded[at->second] = snapshot_from(user, row, 1);
    found.push_back(at->second);
    users.add(user);
    since.add(request.idempotency_since);
    limits.add(limit_plus_one(request.recent_idempotency_max));
  }
  auto recent = tx.exec_prepared("recent_idempotency_many", users.finish(), since.finish(), limits.finish());
  for (const auto& row : recent) {
    auto ord = row[0].as<size_t>();  // 1-based into `found`
    if (ord < 1 || ord > found.size()) throw store_error(store_fault::permanent, "postgres: key row out of range");
    auto index = found[ord - 1];
    add_recent(*loaded[index], requests[index].recent_idempotency_max, row, 1);
  }
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

void postgres_store::fence_activations(lease_holder holder) {
  fence_ = std::move(holder);
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
    pqxx::work tx(connected().connection);
    require_shard_leases(tx, fence_, {user});
    auto snapshot = activate_one(tx, {user, recent_idempotency_max, idempotency_since});
    tx.commit();
    return snapshot;
  } catch (...) {
    fail("activate_user");
  }
}

std::vector<std::optional<user_snapshot>> postgres_store::activate_users(
  const std::vector<activation_request>& requests) {
  try {
    std::vector<std::optional<user_snapshot>> loaded(requests.size());
    if (requests.empty()) return loaded;
    pqxx::work tx(connected().connection);
    std::unordered_set<uuid> distinct;
    for (const auto& request : requests) distinct.insert(request.user);
    require_shard_leases(tx, fence_, std::vector<uuid>(distinct.begin(), distinct.end()));
    if (distinct.size() < requests.size()) {
      // A user named twice must be bumped twice (two activations, two
      // epochs); one UPDATE touches each row once, so go one at a time.
      for (size_t i = 0; i < requests.size(); ++i) loaded[i] = activate_one(tx, requests[i]);
      tx.commit();
      return loaded;
    }
    in_chunks(requests.size(), [&](size_t first, size_t count) { activate_chunk(tx, requests, first, count, loaded); });
    tx.commit();
    return loaded;
  } catch (...) {
    fail("activate_users");
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

std::vector<std::optional<idempotency_record>> postgres_store::find_idempotency_many(
  const std::vector<idempotency_probe>& probes) {
  try {
    std::vector<std::optional<idempotency_record>> found(probes.size());
    if (probes.empty()) return found;
    pqxx::nontransaction tx(connected().connection);
    in_chunks(probes.size(), [&](size_t first, size_t count) {
      array_literal users(count), keys(count), since(count);
      for (size_t i = first; i < first + count; ++i) {
        users.add(probes[i].user);
        keys.add_text(probes[i].key);
        since.add(probes[i].since);
      }
      auto rows = tx.exec_prepared("find_idempotency_many", users.finish(), keys.finish(), since.finish());
      for (const auto& row : rows) {
        auto ord = row[0].as<size_t>();  // 1-based within this chunk
        if (ord < 1 || ord > count) throw store_error(store_fault::permanent, "postgres: lookup row out of range");
        const auto& probe = probes[first + ord - 1];
        found[first + ord - 1] = idempotency_record{probe.user, probe.key, row[1].as<std::string>(),
                                                    row[2].as<int>(), bytes_from(row[3]), row[4].as<int64_t>()};
      }
    });
    return found;
  } catch (...) {
    fail("find_idempotency_many");
  }
}

void postgres_store::commit(const write_batch& batch) {
  if (batch.empty()) return;
  try {
    pqxx::work tx(connected().connection);
    // In the field list's order (protocols/records.hpp): users first.
    fields(batch, [&](const auto&... rows) { (write_rows(tx, rows), ...); });
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

identity_snapshot postgres_store::activate_identity(const uuid& identity, identity_kind kind,
                                                    const std::string& value, timestamp_us now) {
  try {
    auto id = to_string(identity);
    pqxx::work tx(connected().connection);
    require_shard_leases(tx, fence_, {identity});
    tx.exec_prepared("activate_identity_insert", id, std::string(identity_kind_column(kind)), value, now);
    auto bumped = tx.exec_prepared("activate_identity_bump", id);
    if (bumped.empty()) {
      // Only another identity holding (kind, value) stops the insert.
      throw store_error(store_fault::permanent,
                        "postgres: identity " + id + " conflicts with a stored identity");
    }
    const auto& row = bumped[0];
    auto stored_kind = parse_identity_kind_column(row[0].c_str());
    if (!stored_kind) throw store_error(store_fault::permanent, "postgres: unknown identity kind in a stored row");
    identity_snapshot snapshot;
    snapshot.identity = identity_row{identity,           *stored_kind,         row[1].as<std::string>(),
                                     uuid_or_nil_from(row[2]), row[3].as<int64_t>(), row[4].as<int64_t>(),
                                     row[5].as<int64_t>()};
    auto code = tx.exec_prepared("find_login_code", id);
    if (!code.empty()) {
      const auto& c = code[0];
      snapshot.code = login_code_row{identity,          c[0].as<std::string>(), c[1].as<int64_t>(),
                                     c[2].as<int64_t>(), c[3].as<int>(),        c[4].as<int64_t>(),
                                     c[5].as<bool>()};
    }
    tx.commit();
    return snapshot;
  } catch (...) {
    fail("activate_identity");
  }
}

std::vector<bool> postgres_store::known_identities(const std::vector<uuid>& ids) {
  try {
    std::vector<bool> known(ids.size(), false);
    if (ids.empty()) return known;
    pqxx::nontransaction tx(connected().connection);
    in_chunks(ids.size(), [&](size_t first, size_t count) {
      array_literal chunk(count);
      for (size_t i = first; i < first + count; ++i) chunk.add(ids[i]);
      for (const auto& row : tx.exec_prepared("known_identities", chunk.finish())) {
        auto ord = row[0].as<size_t>();  // 1-based within this chunk
        if (ord < 1 || ord > count) throw store_error(store_fault::permanent, "postgres: probe row out of range");
        known[first + ord - 1] = true;
      }
    });
    return known;
  } catch (...) {
    fail("known_identities");
  }
}

std::optional<magic_link_row> postgres_store::find_magic_link(const std::string& token_hash) {
  try {
    pqxx::nontransaction tx(connected().connection);
    auto rows = tx.exec_prepared("find_magic_link", token_hash);
    if (rows.empty()) return std::nullopt;
    const auto& row = rows[0];
    return magic_link_row{token_hash, uuid_from(row[0]), row[1].as<int64_t>(), row[2].as<int64_t>(),
                          row[3].as<int64_t>()};
  } catch (...) {
    fail("find_magic_link");
  }
}

std::optional<session_row> postgres_store::find_session(const uuid& user, const uuid& session) {
  try {
    pqxx::nontransaction tx(connected().connection);
    auto rows = tx.exec_prepared("find_session", to_string(user), to_string(session));
    if (rows.empty()) return std::nullopt;
    return session_from(rows[0]);
  } catch (...) {
    fail("find_session");
  }
}

std::optional<refresh_token_row> postgres_store::find_refresh_token(const std::string& token_hash) {
  try {
    pqxx::nontransaction tx(connected().connection);
    auto rows = tx.exec_prepared("find_refresh_token", token_hash);
    if (rows.empty()) return std::nullopt;
    const auto& row = rows[0];
    return refresh_token_row{token_hash, uuid_from(row[0]), uuid_from(row[1]), row[2].as<int64_t>()};
  } catch (...) {
    fail("find_refresh_token");
  }
}

void postgres_store::create_session(const session_row& session, const refresh_token_row& token) {
  try {
    pqxx::work tx(connected().connection);
    auto inserted = tx.exec_prepared("create_session", to_string(session.id), to_string(session.user_id),
                                     session.refresh_hash, session.previous_refresh_hash, session.rotated_at,
                                     session.created_at, session.expires_at, session.revoked_at);
    if (inserted.affected_rows() == 0)
      throw store_error(store_fault::permanent, "postgres: no user " + to_string(session.user_id));
    tx.exec_prepared("create_refresh_token", token.token_hash, to_string(token.session_id),
                     to_string(token.user_id), token.issued_at);
    tx.commit();
  } catch (...) {
    fail("create_session");
  }
}

size_t postgres_store::delete_expired_auth(timestamp_us now) {
  try {
    timestamp_us before = now - expired_auth_retention_us;
    size_t deleted = 0;
    pqxx::work tx(connected().connection);
    for (const char* name : {"delete_expired_magic_links", "delete_expired_login_codes",
                             "delete_expired_refresh_tokens", "delete_expired_sessions"})
      deleted += tx.exec_prepared(name, before).affected_rows();
    tx.commit();
    return deleted;
  } catch (...) {
    fail("delete_expired_auth");
  }
}

std::vector<generation_row> postgres_store::find_active_generations(const std::vector<uuid>& users) {
  try {
    std::vector<generation_row> found;
    if (users.empty()) return found;
    array_literal ids(users.size());
    for (const auto& user : users) ids.add(user);
    pqxx::nontransaction tx(connected().connection);
    for (const auto& row : tx.exec_prepared("find_active_generations", ids.finish()))
      found.push_back(generation_from(row));
    return found;
  } catch (...) {
    fail("find_active_generations");
  }
}

std::optional<generation_row> postgres_store::find_generation(const uuid& user, const uuid& generation) {
  try {
    pqxx::nontransaction tx(connected().connection);
    auto rows = tx.exec_prepared("find_generation", to_string(generation), to_string(user));
    if (rows.empty()) return std::nullopt;
    return generation_from(rows[0]);
  } catch (...) {
    fail("find_generation");
  }
}

generation_page postgres_store::read_generations(const uuid& user, const generation_query& query) {
  try {
    generation_page page;
    if (query.limit <= 0) return page;
    std::string status = query.status ? std::string(to_string(*query.status)) : std::string{};
    std::string before_id = to_string(query.before_id);
    std::string before_created = query.before_created_at ? std::to_string(*query.before_created_at) : std::string{};
    pqxx::nontransaction tx(connected().connection);
    auto rows = tx.exec_prepared("read_generations", to_string(user), query.status ? status.c_str() : nullptr,
                                 query.active_only, query.before_created_at ? before_created.c_str() : nullptr,
                                 query.before_created_at ? before_id.c_str() : nullptr,
                                 int64_t{query.limit} + 1);  // one extra row tells whether more exist
    for (const auto& row : rows) {
      if (page.generations.size() == static_cast<size_t>(query.limit)) {
        page.next_created_at = page.generations.back().created_at;
        page.next_id = page.generations.back().id;
        break;
      }
      page.generations.push_back(generation_from(row));
    }
    return page;
  } catch (...) {
    fail("read_generations");
  }
}

std::vector<uuid> postgres_store::users_with_generations_due(timestamp_us due, size_t max) {
  try {
    std::vector<uuid> users;
    pqxx::nontransaction tx(connected().connection);
    for (const auto& row : tx.exec_prepared("users_with_generations_due", due, limit_plus_one(max) - 1))
      users.push_back(uuid_from(row[0]));
    return users;
  } catch (...) {
    fail("users_with_generations_due");
  }
}

// -- tenants ---------------------------------------------------------------------
//
// Few rows per batch (activations are rare next to charges): one statement
// per row, in order, so a subdomain released and held again in one batch
// keeps its order and a refused row names itself.

namespace {

void write_rows(pqxx::work& tx, const std::vector<tenant_row>& rows) {
  for (const auto& tenant : rows) {
    // A new tenant is inserted; later writes apply only at its owner epoch.
    auto applied = tx.exec_params(
      "INSERT INTO tenants (id, name, owner_id, active_module, subdomain, owner_epoch, created_at)"
      " VALUES ($1::uuid, $2, $3::uuid, NULLIF($4, ''), NULLIF($5, ''), $6, " + from_us("$7") + ")"
      " ON CONFLICT (id) DO UPDATE SET name = excluded.name, active_module = excluded.active_module,"
      " subdomain = excluded.subdomain WHERE tenants.owner_epoch = excluded.owner_epoch",
      to_string(tenant.id), tenant.name, to_string(tenant.owner_id), tenant.active_module,
      tenant.subdomain, tenant.owner_epoch, tenant.created_at);
    if (applied.affected_rows() == 0)
      throw store_error(store_fault::fenced, "postgres: tenant " + to_string(tenant.id) +
                                               " is not at owner epoch " + std::to_string(tenant.owner_epoch));
  }
}

void write_rows(pqxx::work& tx, const std::vector<tenant_member_row>& rows) {
  for (const auto& member : rows)
    tx.exec_params("INSERT INTO tenant_members (tenant_id, user_id, role, created_at)"
                   " VALUES ($1::uuid, $2::uuid, $3, " + from_us("$4") + ")",
                   to_string(member.tenant_id), to_string(member.user_id), member.role, member.created_at);
}

void write_rows(pqxx::work& tx, const std::vector<subdomain_write>& rows) {
  for (const auto& subdomain : rows) {
    if (subdomain.held) {
      tx.exec_params("INSERT INTO subdomains (name, tenant_id, held_since) VALUES ($1, $2::uuid, " +
                       from_us("$3") + ")",
                     subdomain.name, to_string(subdomain.tenant_id), subdomain.at);
      continue;
    }
    auto deleted = tx.exec_params("DELETE FROM subdomains WHERE name = $1 AND tenant_id = $2::uuid",
                                  subdomain.name, to_string(subdomain.tenant_id));
    if (deleted.affected_rows() == 0)
      throw store_error(store_fault::permanent, "postgres: subdomain " + subdomain.name +
                                                  " is not held by tenant " + to_string(subdomain.tenant_id));
  }
}

void write_rows(pqxx::work& tx, const std::vector<subscription_row>& rows) {
  for (const auto& row : rows)
    tx.exec_params(
      "INSERT INTO subscriptions (id, tenant_id, module, plan, status, trial_ends_at, created_at, updated_at)"
      " VALUES ($1::uuid, $2::uuid, $3, $4, $5, " + from_us("$6") + ", " + from_us("$7") + ", " +
        from_us("$8") + ") ON CONFLICT (id) DO UPDATE SET status = excluded.status,"
      " updated_at = excluded.updated_at",
      to_string(row.id), to_string(row.tenant_id), row.module, row.plan, row.status, row.trial_ends_at,
      row.created_at, row.updated_at);
}

} // namespace

std::optional<tenant_snapshot> postgres_store::activate_tenant(const uuid& tenant) {
  try {
    auto id = to_string(tenant);
    pqxx::work tx(connected().connection);
    require_shard_leases(tx, fence_, {tenant});
    auto bumped = tx.exec_params(
      "UPDATE tenants SET owner_epoch = owner_epoch + 1 WHERE id = $1::uuid RETURNING name, owner_id,"
      " COALESCE(active_module, ''), COALESCE(subdomain, ''), owner_epoch, " + to_us("created_at"),
      id);
    if (bumped.empty()) {
      tx.commit();
      return std::nullopt;
    }
    tenant_snapshot snapshot;
    const auto& row = bumped[0];
    snapshot.tenant = tenant_row{tenant,                   row[0].as<std::string>(), uuid_from(row[1]),
                                 row[2].as<std::string>(), row[3].as<std::string>(), row[4].as<int64_t>(),
                                 row[5].as<int64_t>()};
    auto members = tx.exec_params("SELECT user_id, role, " + to_us("created_at") +
                                    " FROM tenant_members WHERE tenant_id = $1::uuid ORDER BY created_at",
                                  id);
    for (const auto& member : members)
      snapshot.members.push_back(
        tenant_member_row{tenant, uuid_from(member[0]), member[1].as<std::string>(), member[2].as<int64_t>()});
    auto newest = tx.exec_params("SELECT id, module, plan, status, " + to_us("trial_ends_at") + ", " +
                                   to_us("created_at") + ", " + to_us("updated_at") +
                                   " FROM subscriptions WHERE tenant_id = $1::uuid ORDER BY created_at DESC LIMIT 1",
                                 id);
    if (!newest.empty()) {
      const auto& s = newest[0];
      snapshot.subscription = subscription_row{uuid_from(s[0]),       tenant,
                                               s[1].as<std::string>(), s[2].as<std::string>(),
                                               s[3].as<std::string>(), s[4].as<int64_t>(),
                                               s[5].as<int64_t>(),     s[6].as<int64_t>()};
    }
    tx.commit();
    return snapshot;
  } catch (...) {
    fail("activate_tenant");
  }
}

uuid postgres_store::find_subdomain_holder(const std::string& name) {
  try {
    // A transaction, so that the lease check (cluster mode) and the read
    // see one snapshot and the lease row stays locked in between.
    pqxx::work tx(connected().connection);
    require_shard_leases(tx, fence_, {subdomain_key(name)});
    auto rows = tx.exec_params("SELECT tenant_id FROM subdomains WHERE name = $1", name);
    tx.commit();
    return rows.empty() ? uuid{} : uuid_from(rows[0][0]);
  } catch (...) {
    fail("find_subdomain_holder");
  }
}

std::vector<membership_view> postgres_store::find_memberships(const uuid& user) {
  try {
    pqxx::nontransaction tx(connected().connection);
    auto rows = tx.exec_params(
      "SELECT t.id, t.name, m.role FROM tenant_members AS m JOIN tenants AS t ON t.id = m.tenant_id"
      " WHERE m.user_id = $1::uuid ORDER BY m.created_at, t.id",
      to_string(user));
    std::vector<membership_view> found;
    for (const auto& row : rows)
      found.push_back(membership_view{uuid_from(row[0]), row[1].as<std::string>(), row[2].as<std::string>()});
    return found;
  } catch (...) {
    fail("find_memberships");
  }
}

// -- payment webhooks -------------------------------------------------------------

std::optional<webhook_event_row> postgres_store::find_webhook_event(const uuid& id) {
  try {
    pqxx::work tx(connected().connection);
    require_shard_leases(tx, fence_, {id});
    auto rows = tx.exec_prepared("find_webhook_event", to_string(id));
    tx.commit();
    if (rows.empty()) return std::nullopt;
    const auto& row = rows[0];
    auto status = parse_webhook_status(row[2].c_str());
    if (!status) throw store_error(store_fault::permanent, "postgres: unknown webhook status in a stored row");
    return webhook_event_row{id,      row[0].as<std::string>(), row[1].as<std::string>(), *status,
                             row[3].as<int64_t>(), row[4].as<int64_t>(), row[5].as<int64_t>()};
  } catch (...) {
    fail("find_webhook_event");
  }
}

std::optional<payment_row> postgres_store::find_payment(const uuid& id) {
  try {
    pqxx::nontransaction tx(connected().connection);
    auto rows = tx.exec_prepared("find_payment", to_string(id));
    if (rows.empty()) return std::nullopt;
    const auto& row = rows[0];
    return payment_row{id, row[0].as<std::string>(), uuid_from(row[1]), row[2].as<int64_t>(),
                       row[3].as<std::string>(), row[4].as<int64_t>()};
  } catch (...) {
    fail("find_payment");
  }
}

size_t postgres_store::delete_webhook_events_before(timestamp_us before) {
  try {
    pqxx::work tx(connected().connection);
    auto deleted = tx.exec_prepared("delete_webhook_events_before", before);
    tx.commit();
    return deleted.affected_rows();
  } catch (...) {
    fail("delete_webhook_events_before");
  }
}

} // namespace tally
