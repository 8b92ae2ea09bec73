#pragma once
// Shared fixtures for the store tests: a scratch directory for SQLite, a
// scratch schema on the Postgres named by TALLY_TEST_PG_URL, and builders
// for batch records.
#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "persistence/store.hpp"

namespace tally::test {

/// A fixed, odd instant (microseconds) so exact round trips are visible.
constexpr timestamp_us t0_us = 1'700'000'000'123'457;

/// A fresh directory under the system temp dir, removed on destruction.
struct temp_dir {
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::filesystem::path path;
};

/// The generations part of the store contract (generation_store_test.cpp),
/// each SECTION on a fresh store from `open`.
void check_generation_contract(const std::function<std::unique_ptr<store>()>& open);

/// TALLY_TEST_PG_URL, if set and not empty.
std::optional<std::string> postgres_test_url();

/// A fresh schema on the test server; `url` points search_path at it and
/// sets application_name to the schema name (so a test can find and kill
/// its own backends). Dropped with everything in it on destruction.
struct postgres_schema {
  explicit postgres_schema(const std::string& server_url);
  ~postgres_schema();
  postgres_schema(const postgres_schema&) = delete;
  postgres_schema& operator=(const postgres_schema&) = delete;
  std::string server_url;
  std::string name;
  std::string url;
};

user_row make_user(std::string email = {}, std::string phone = {});

ledger_write make_ledger(const uuid& user, int64_t seq, ledger_type type, int64_t amount, balance after,
                         std::string reference = "ref", timestamp_us at = t0_us);

idempotency_record make_idempotency(const uuid& user, std::string key, timestamp_us at,
                                    std::string response = std::string("\x01\x00\xff", 3));

balance_write make_balance(const uuid& user, int64_t epoch, balance bal, int64_t ledger_seq,
                           timestamp_us at = t0_us);

/// A day in microseconds (store::delete_expired_auth keeps rows a day).
constexpr timestamp_us day_us = int64_t{24} * 60 * 60 * 1'000'000;

/// A hex string of 64 characters, like sha256_hex, distinct per `seed`.
std::string fake_hash(const std::string& seed);

magic_link_row make_magic_link(const uuid& identity, std::string seed, timestamp_us expires_at,
                               timestamp_us used_at = 0);

login_code_row make_code(const uuid& identity, std::string seed, timestamp_us expires_at);

/// A live session of `user`, its refresh token hashed from `seed`.
session_row make_session(const uuid& user, std::string seed, timestamp_us expires_at);

refresh_token_row make_refresh_token(const session_row& session, std::string seed);

outbox_row make_outbox(std::string destination);

audit_row make_audit(std::string event, const uuid& user = {}, const uuid& session = {});

/// Commits `count` grants of `amount` each (seq from+1 .. from+count), with
/// their balance write, in one batch. Returns the balance afterwards.
balance commit_grants(store& db, const uuid& user, int64_t epoch, balance before, int64_t from_seq, int count,
                      int64_t amount = 10);

/// Runs `call` and returns the fault of the store_error it threw, or nullopt
/// when it threw nothing (other exceptions propagate and fail the test).
template <class Call>
std::optional<store_fault> fault_of(Call&& call) {
  try {
    call();
  } catch (const store_error& e) {
    UNSCOPED_INFO("store_error: " << e.what());
    return e.fault();
  }
  return std::nullopt;
}

} // namespace tally::test

namespace Catch {
/// Readable expansions for CHECK(fault_of(...) == store_fault::...).
template <>
struct StringMaker<std::optional<tally::store_fault>> {
  static std::string convert(const std::optional<tally::store_fault>& fault) {
    if (!fault) return "no store_error";
    switch (*fault) {
      case tally::store_fault::transient: return "transient";
      case tally::store_fault::permanent: return "permanent";
      case tally::store_fault::fenced: return "fenced";
    }
    return "unknown fault";
  }
};
template <>
struct StringMaker<tally::store_fault> {
  static std::string convert(tally::store_fault fault) {
    return StringMaker<std::optional<tally::store_fault>>::convert(fault);
  }
};
} // namespace Catch
