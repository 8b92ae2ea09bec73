#include "tests/persistence/store_test_support.hpp"

#include <cstdlib>
#include <pqxx/pqxx>

namespace tally::test {

temp_dir::temp_dir() {
  auto base = std::filesystem::temp_directory_path();
  path = base / ("tally_store_test_" + to_string(random_uuid()));
  std::filesystem::create_directories(path);
}

temp_dir::~temp_dir() {
  std::error_code ignored;
  std::filesystem::remove_all(path, ignored);
}

std::optional<std::string> postgres_test_url() {
  const char* url = std::getenv("TALLY_TEST_PG_URL");
  if (url == nullptr || *url == '\0') return std::nullopt;
  return std::string(url);
}

postgres_schema::postgres_schema(const std::string& server)
    : server_url(server), name("tally_test_" + to_string(random_uuid()).substr(0, 8)) {
  pqxx::connection admin(server_url);
  pqxx::nontransaction tx(admin);
  tx.exec("CREATE SCHEMA " + name);
  url = server_url + (server_url.find('?') == std::string::npos ? "?" : "&") +
        "options=-csearch_path%3D" + name + "&application_name=" + name;
}

postgres_schema::~postgres_schema() {
  try {
    pqxx::connection admin(server_url);
    pqxx::nontransaction tx(admin);
    tx.exec("DROP SCHEMA IF EXISTS " + name + " CASCADE");
  } catch (...) {
    // A leftover scratch schema is harmless; never throw from a destructor.
  }
}

user_row make_user(std::string email, std::string phone) {
  return user_row{random_uuid(), std::move(email), std::move(phone), t0_us};
}

ledger_write make_ledger(const uuid& user, int64_t seq, ledger_type type, int64_t amount, balance after,
                         std::string reference, timestamp_us at) {
  ledger_write write;
  write.user_id = user;
  write.entry = ledger_entry{random_uuid(), seq, type, amount, after.available, after.reserved,
                             std::move(reference), at};
  return write;
}

idempotency_record make_idempotency(const uuid& user, std::string key, timestamp_us at, std::string response) {
  return idempotency_record{user, std::move(key), "digest-" + std::to_string(at), 201, std::move(response), at};
}

balance_write make_balance(const uuid& user, int64_t epoch, balance bal, int64_t ledger_seq, timestamp_us at) {
  return balance_write{user, epoch, bal, ledger_seq, at};
}

balance commit_grants(store& db, const uuid& user, int64_t epoch, balance before, int64_t from_seq, int count,
                      int64_t amount) {
  write_batch batch;
  balance now = before;
  for (int i = 1; i <= count; ++i) {
    now.available += amount;
    batch.ledger.push_back(make_ledger(user, from_seq + i, ledger_type::grant, amount, now, "grant",
                                       t0_us + from_seq + i));
  }
  batch.balances.push_back(make_balance(user, epoch, now, from_seq + count));
  db.commit(batch);
  return now;
}

} // namespace tally::test
