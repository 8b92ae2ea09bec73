// Postgres specifics, run when TALLY_TEST_PG_URL is set: a lost connection
// fails one call as transient and the next call reconnects by itself; a
// statement stuck behind a lock is cut off by statement_timeout as transient.
#include <catch2/catch.hpp>

#include <pqxx/pqxx>

#include "persistence/migrations.hpp"
#include "persistence/postgres_store.hpp"
#include "tests/persistence/store_test_support.hpp"

using namespace tally;
using namespace tally::test;

namespace {

/// Terminates every backend of this schema's store connections and waits
/// (server-side, bounded) until they are gone.
int terminate_store_backends(const postgres_schema& schema) {
  constexpr int terminate_wait_ms = 5000;
  pqxx::connection admin(schema.server_url);
  pqxx::nontransaction tx(admin);
  auto killed = tx.exec_params(
    "SELECT pg_terminate_backend(pid, $2) FROM pg_stat_activity WHERE application_name = $1",
    schema.name, terminate_wait_ms);
  return static_cast<int>(killed.size());
}

} // namespace

TEST_CASE("postgres store turns a lost connection into a transient fault and reconnects", "[store][postgres]") {
  auto server = postgres_test_url();
  if (!server) {
    WARN("TALLY_TEST_PG_URL is not set: Postgres store cases skipped");
    return;
  }
  postgres_schema schema(*server);
  postgres_store db(schema.url);
  db.migrate();
  auto user = make_user();
  db.create_user(user);
  auto epoch = db.activate_user(user.id, 10, 0)->owner_epoch;

  REQUIRE(terminate_store_backends(schema) == 1);
  CHECK(fault_of([&] { db.ping(); }) == store_fault::transient);
  db.ping();  // reconnected lazily

  // A commit that meets a dead connection fails as transient, persists
  // nothing, and the writer's retry of the same batch then succeeds.
  write_batch batch;
  batch.balances.push_back(make_balance(user.id, epoch, {10, 0}, 1));
  batch.ledger.push_back(make_ledger(user.id, 1, ledger_type::grant, 10, {10, 0}));
  batch.idempotency.push_back(make_idempotency(user.id, "k", t0_us));
  REQUIRE(terminate_store_backends(schema) == 1);
  CHECK(fault_of([&] { db.commit(batch); }) == store_fault::transient);
  db.commit(batch);
  CHECK(db.read_ledger(user.id, ledger_query{}).entries.size() == 1);
  CHECK(db.activate_user(user.id, 10, 0)->bal == balance{10, 0});
}

TEST_CASE("postgres store cuts a statement stuck on a lock off as transient", "[store][postgres]") {
  constexpr int statement_timeout_ms = 200;  // the production default is 5 s
  auto server = postgres_test_url();
  if (!server) {
    WARN("TALLY_TEST_PG_URL is not set: Postgres store cases skipped");
    return;
  }
  postgres_schema schema(*server);
  postgres_store db(schema.url, statement_timeout_ms);
  db.migrate();
  auto user = make_user();
  db.create_user(user);

  pqxx::connection other(schema.server_url);
  {
    pqxx::work holder(other);
    holder.exec_params("SELECT 1 FROM " + schema.name + ".users WHERE id = $1 FOR UPDATE", to_string(user.id));
    CHECK(fault_of([&] { db.activate_user(user.id, 10, 0); }) == store_fault::transient);
    holder.abort();
  }
  // Same store object, lock gone: the activation goes through and the
  // cancelled one left no epoch bump behind.
  auto snapshot = db.activate_user(user.id, 10, 0);
  REQUIRE(snapshot);
  CHECK(snapshot->owner_epoch == 1);
}

TEST_CASE("postgres store migrates a version-1 database to version 2 in place", "[store][postgres][auth]") {
  auto server = postgres_test_url();
  if (!server) {
    WARN("TALLY_TEST_PG_URL is not set: Postgres store cases skipped");
    return;
  }
  postgres_schema schema(*server);
  {
    // A schema as the version-1 build left it.
    pqxx::connection raw(schema.url);
    pqxx::work tx(raw);
    tx.exec(schema_version_table_sql(sql_dialect::postgres));
    const auto& first = migrations_for(sql_dialect::postgres).at(0);
    REQUIRE(first.version == 1);
    tx.exec(first.sql);
    tx.exec("INSERT INTO schema_version (version) VALUES (1)");
    tx.commit();
  }
  auto user = make_user("", "+15550200");
  {
    postgres_store v1(schema.url);  // no migrate(): still at version 1
    v1.create_user(user);
    commit_grants(v1, user.id, v1.activate_user(user.id, 1, 0)->owner_epoch, {}, 0, 2);
  }
  postgres_store db(schema.url);
  db.migrate();
  pqxx::connection raw(schema.url);
  pqxx::nontransaction tx(raw);
  CHECK(tx.exec1("SELECT MAX(version) FROM schema_version")[0].as<int>() == schema_version_latest());
  auto loaded = db.activate_user(user.id, 1, 0);
  REQUIRE(loaded);
  CHECK(loaded->bal.available == 20);
  CHECK(db.read_ledger(user.id, ledger_query{}).entries.size() == 2);
  auto identity = db.activate_identity(random_uuid(), identity_kind::phone, "+15550200", t0_us);
  CHECK(identity.identity.user_id == user.id);
  db.migrate();
  CHECK(tx.exec1("SELECT COUNT(*) FROM schema_version")[0].as<int>() == schema_version_latest());
}

TEST_CASE("postgres store writes outbox and audit rows as committed", "[store][postgres][auth]") {
  auto server = postgres_test_url();
  if (!server) {
    WARN("TALLY_TEST_PG_URL is not set: Postgres store cases skipped");
    return;
  }
  postgres_schema schema(*server);
  postgres_store db(schema.url);
  db.migrate();
  auto user = make_user();
  auto session = random_uuid();
  write_batch batch;
  batch.outbox.push_back(make_outbox("o'brien@example.com"));
  batch.outbox.back().body = "quote\" back\\slash {brace}, NULL\nsecond line";
  batch.outbox.push_back(make_outbox("+15550201"));
  batch.outbox.back().channel = "sms";
  batch.outbox.back().created_at = t0_us + 1;
  batch.audit.push_back(make_audit("logged_out", user.id, session));
  batch.audit.push_back(make_audit("login_failed"));
  db.commit(batch);

  pqxx::connection raw(schema.url);
  pqxx::nontransaction tx(raw);
  const auto& message = batch.outbox[0];
  auto row = tx.exec_params1(
    "SELECT channel, destination, body, round(extract(epoch from created_at) * 1000000)::bigint,"
    " delivered_at IS NULL FROM outbox WHERE id = $1", to_string(message.id));
  CHECK(row[0].as<std::string>() == "email");
  CHECK(row[1].as<std::string>() == "o'brien@example.com");
  CHECK(row[2].as<std::string>() == message.body);
  CHECK(row[3].as<int64_t>() == t0_us);
  CHECK(row[4].as<bool>());
  // What a mailer polls: undelivered, oldest first.
  auto pending = tx.exec("SELECT id FROM outbox WHERE delivered_at IS NULL ORDER BY created_at");
  REQUIRE(pending.size() == 2);
  CHECK(pending[0][0].as<std::string>() == to_string(message.id));

  auto known = tx.exec_params1(
    "SELECT event, request_id, user_id, session_id, client_ip, detail,"
    " round(extract(epoch from created_at) * 1000000)::bigint FROM audit_log WHERE id = $1",
    to_string(batch.audit[0].id));
  CHECK(known[0].as<std::string>() == "logged_out");
  CHECK(known[1].as<std::string>() == "req-1");
  CHECK(known[2].as<std::string>() == to_string(user.id));
  CHECK(known[3].as<std::string>() == to_string(session));
  CHECK(known[4].as<std::string>() == "203.0.113.7");
  CHECK(known[5].as<std::string>() == "magic_link");
  CHECK(known[6].as<int64_t>() == t0_us);
  auto unknown = tx.exec_params1("SELECT user_id IS NULL AND session_id IS NULL FROM audit_log WHERE id = $1",
                                 to_string(batch.audit[1].id));
  CHECK(unknown[0].as<bool>());
}
