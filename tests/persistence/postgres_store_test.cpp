// Postgres specifics, run when TALLY_TEST_PG_URL is set: a lost connection
// fails one call as transient and the next call reconnects by itself; a
// statement stuck behind a lock is cut off by statement_timeout as transient.
#include <catch2/catch.hpp>

#include <pqxx/pqxx>

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
