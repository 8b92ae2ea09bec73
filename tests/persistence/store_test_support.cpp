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

std::string fake_hash(const std::string& seed) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  // FNV-1a over the seed, spread over 64 hex digits: distinct seeds give
  // distinct hashes here, which is all the tests need.
  uint64_t state = 14695981039346656037ULL;
  for (unsigned char c : seed) state = (state ^ c) * 1099511628211ULL;
  while (out.size() < 64) {
    state = (state ^ (state >> 29)) * 0xbf58476d1ce4e5b9ULL;
    out += hex[(state >> 32) & 0x0f];
  }
  return out;
}

magic_link_row make_magic_link(const uuid& identity, std::string seed, timestamp_us expires_at,
                               timestamp_us used_at) {
  return magic_link_row{fake_hash(seed), identity, expires_at - 15 * 60 * 1'000'000LL, expires_at, used_at};
}

login_code_row make_code(const uuid& identity, std::string seed, timestamp_us expires_at) {
  return login_code_row{identity, fake_hash(seed), expires_at - 5 * 60 * 1'000'000LL, expires_at, 0, 0, false};
}

session_row make_session(const uuid& user, std::string seed, timestamp_us expires_at) {
  session_row session;
  session.id = random_uuid();
  session.user_id = user;
  session.refresh_hash = fake_hash(seed);
  session.created_at = t0_us;
  session.expires_at = expires_at;
  return session;
}

refresh_token_row make_refresh_token(const session_row& session, std::string seed) {
  return refresh_token_row{fake_hash(seed), session.id, session.user_id, t0_us};
}

outbox_row make_outbox(std::string destination) {
  return outbox_row{random_uuid(), "email", std::move(destination), "Your link: https://x/login?token=abc", t0_us};
}

audit_row make_audit(std::string event, const uuid& user, const uuid& session) {
  return audit_row{random_uuid(), t0_us, std::move(event), "req-1", user, session, "203.0.113.7", "magic_link"};
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
