// tests/sim/invariant_checker_test.cpp: the simulation's oracle catches each
// kind of violation it claims to catch, and stays quiet on a correct history.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "protocols/codec.hpp"
#include "tests/sim/invariant_checker.hpp"
#include "tests/sim/simulated_store.hpp"

using namespace tally;
using namespace tally::sim;

namespace {

/// A credit body (grant > 0, debit < 0) and its tag.
op_body credit_body(int64_t amount, const std::string& tag) {
  return {op_kind::credit, amount, tag};
}

/// The records a user actor writes for one accepted credit.
write_batch credit_batch(const uuid& user, int64_t seq, balance after, const std::string& key,
                         const op_body& body) {
  write_batch batch;
  ledger_entry entry;
  entry.id = random_uuid();
  entry.seq = seq;
  entry.type = body.amount > 0 ? ledger_type::grant : ledger_type::debit;
  entry.amount = std::llabs(body.amount);
  entry.available_after = after.available;
  entry.reserved_after = after.reserved;
  entry.reference = body.tag;
  batch.ledger.push_back(ledger_write{user, entry, {}});
  batch.balances.push_back(balance_write{user, 0, after, seq, 0});
  auto response = encode(credit_result{after.available, after.reserved});
  batch.idempotency.push_back(
    idempotency_record{user, key, body.digest(), 200, std::move(response), now_us()});
  return batch;
}

mutation_reply<credit_result> credit_answer(balance after, bool replayed) {
  return {credit_result{after.available, after.reserved}, replayed};
}

struct checker_fixture {
  explicit checker_fixture(checker_rules rules = {}) : checker(rules) {
    db->add_user(user, {10, 0});
    checker.add_user(user, {10, 0});
    db->observe_commits([this](const write_batch& batch) { checker.on_commit(batch); });
  }

  /// Sends and commits a grant of `amount` from the current balance.
  void commit_credit(const std::string& key, const op_body& body, balance after, int64_t seq) {
    checker.add_body(body);
    checker.on_sent(user, key, body);
    db->commit(credit_batch(user, seq, after, key, body));
  }

  std::shared_ptr<simulated_database> db = std::make_shared<simulated_database>();
  invariant_checker checker;
  uuid user = random_uuid();
};

bool says(const invariant_checker& checker, const std::string& words) {
  return checker.violation() && checker.violation()->find(words) != std::string::npos;
}

} // namespace

TEST_CASE("a correct history passes every check") {
  checker_fixture f;
  auto grant = credit_body(5, "op-1");
  f.commit_credit("k1", grant, {15, 0}, 1);
  f.checker.on_credit_reply(*f.db, f.user, "k1", grant, false, credit_answer({15, 0}, false));
  bool committed = f.checker.on_sent(f.user, "k1", grant);
  CHECK(committed);
  f.checker.on_credit_reply(*f.db, f.user, "k1", grant, committed, credit_answer({15, 0}, true));
  f.checker.on_balance_reply(f.user, balance{10, 0});  // an older committed state
  f.checker.on_balance_reply(f.user, balance{15, 0});
  f.checker.compare_with_store(*f.db, 0);
  f.checker.final_checks(*f.db, 0);
  INFO(f.checker.violation().value_or("none"));
  CHECK(f.checker.ok());
  CHECK(f.checker.stats().fresh_acks == 1);
  CHECK(f.checker.stats().replays == 1);
}

TEST_CASE("a broken ledger chain is reported") {
  checker_fixture f;
  auto grant = credit_body(5, "op-1");
  f.commit_credit("k1", grant, {16, 0}, 1);  // 10 + 5 is not 16
  CHECK(says(f.checker, "chain"));
}

TEST_CASE("a command applied twice (two entries for one body) is reported") {
  checker_fixture f;
  auto grant = credit_body(5, "op-1");
  f.commit_credit("k1", grant, {15, 0}, 1);
  REQUIRE(f.checker.ok());
  f.commit_credit("k2", grant, {20, 0}, 2);  // same body, same reference, another key
  CHECK(says(f.checker, "committed twice"));
}

TEST_CASE("a ledger entry committed without its idempotency key is reported") {
  checker_fixture f;
  auto grant = credit_body(5, "op-1");
  f.checker.add_body(grant);
  auto batch = credit_batch(f.user, 1, {15, 0}, "k1", grant);
  batch.idempotency.clear();
  f.checker.on_commit(batch);
  CHECK(says(f.checker, "without an idempotency key"));
}

TEST_CASE("an acknowledged mutation missing from the store is reported") {
  checker_fixture f;
  auto grant = credit_body(5, "op-1");
  f.checker.add_body(grant);
  f.checker.on_sent(f.user, "k1", grant);
  f.checker.on_credit_reply(*f.db, f.user, "k1", grant, false, credit_answer({15, 0}, false));
  CHECK(says(f.checker, "no committed ledger entry"));
}

TEST_CASE("a key acknowledged fresh twice is reported as applied twice") {
  // The retry was sent before the first commit: only the second fresh
  // acknowledgement shows the double execution.
  checker_fixture f;
  auto grant = credit_body(5, "op-1");
  f.commit_credit("k1", grant, {15, 0}, 1);
  f.checker.on_credit_reply(*f.db, f.user, "k1", grant, false, credit_answer({15, 0}, false));
  REQUIRE(f.checker.ok());
  f.checker.on_sent(f.user, "k1", grant);
  f.checker.on_credit_reply(*f.db, f.user, "k1", grant, false, credit_answer({15, 0}, false));
  CHECK(says(f.checker, "applied twice"));
}

TEST_CASE("a replay that differs from the stored response is reported") {
  checker_fixture f;
  auto grant = credit_body(5, "op-1");
  f.commit_credit("k1", grant, {15, 0}, 1);
  bool committed = f.checker.on_sent(f.user, "k1", grant);
  // Same available as its ledger entry, another reserved: only the stored
  // response itself tells them apart.
  f.checker.on_credit_reply(*f.db, f.user, "k1", grant, committed, credit_answer({15, 1}, true));
  CHECK(says(f.checker, "differs from the stored one"));
}

TEST_CASE("a committed key must replay, not run again or be refused") {
  auto grant = credit_body(5, "op-1");
  SECTION("refused as insufficient") {
    checker_fixture f;
    f.commit_credit("k1", grant, {15, 0}, 1);
    bool committed = f.checker.on_sent(f.user, "k1", grant);
    f.checker.on_credit_reply(*f.db, f.user, "k1", grant, committed,
                              failure{error_code::overloaded, "full", 1});
    CHECK(says(f.checker, "instead of its replay"));
  }
  SECTION("another body answered with its replay") {
    checker_fixture f;
    f.commit_credit("k1", grant, {15, 0}, 1);
    auto other = credit_body(6, "op-2");
    f.checker.add_body(other);
    bool committed = f.checker.on_sent(f.user, "k1", other);
    f.checker.on_credit_reply(*f.db, f.user, "k1", other, committed, credit_answer({15, 0}, true));
    CHECK(says(f.checker, "another body"));
  }
  SECTION("a 503 while the store is down is fine") {
    checker_fixture f;
    f.commit_credit("k1", grant, {15, 0}, 1);
    bool committed = f.checker.on_sent(f.user, "k1", grant);
    f.checker.on_credit_reply(*f.db, f.user, "k1", grant, committed,
                              failure{error_code::store_unavailable, "down", 1});
    CHECK(f.checker.ok());
  }
}

TEST_CASE("a balance read ahead of the store is reported") {
  checker_fixture f;
  f.checker.on_balance_reply(f.user, balance{15, 0});
  CHECK(says(f.checker, "never committed"));
}

TEST_CASE("a store that differs from its committed batches is reported") {
  checker_fixture f;
  f.db->observe_commits(nullptr);
  auto grant = credit_body(5, "op-1");
  f.checker.add_body(grant);
  f.checker.on_sent(f.user, "k1", grant);
  f.db->commit(credit_batch(f.user, 1, {15, 0}, "k1", grant));  // the checker never saw it
  f.checker.compare_with_store(*f.db, 0);
  CHECK(says(f.checker, "store balance"));
}

TEST_CASE("503 is a violation where only transient faults were injected") {
  auto grant = credit_body(5, "op-1");
  failure unavailable{error_code::store_unavailable, "down", 1};

  checker_rules transient_only;
  transient_only.store_unavailable_allowed = false;
  checker_fixture strict{transient_only};
  strict.checker.add_body(grant);
  strict.checker.on_sent(strict.user, "k1", grant);
  strict.checker.on_credit_reply(*strict.db, strict.user, "k1", grant, false, unavailable);
  CHECK(says(strict.checker, "only transient faults"));

  checker_fixture mixed;
  mixed.checker.add_body(grant);
  mixed.checker.on_sent(mixed.user, "k1", grant);
  mixed.checker.on_credit_reply(*mixed.db, mixed.user, "k1", grant, false, unavailable);
  CHECK(mixed.checker.ok());
}

TEST_CASE("a conflict answer needs a conflicting earlier request") {
  checker_fixture f;
  auto grant = credit_body(5, "op-1");
  f.checker.add_body(grant);
  f.checker.on_sent(f.user, "k1", grant);
  f.checker.on_credit_reply(*f.db, f.user, "k1", grant, false,
                            failure{error_code::idempotency_key_reused, "reused", 0});
  CHECK(says(f.checker, "only one body"));
}
