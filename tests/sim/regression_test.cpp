// tests/sim/regression_test.cpp: minimal, deterministic reproductions of
// what the simulation found, each named after its first failing seed. They
// assert the contract (API.md), so a test stays red until the bug is fixed.
#include "tests/actors/actor_fixture.hpp"

using namespace tally;
using namespace tally::test;

namespace {

/// A user actor with a real writer and reader and a one-key memory, so a
/// key committed before the newest one must be looked up in the store.
struct one_key_fixture : actor_fixture {
  one_key_fixture() {
    context.idempotency_cached_max = 1;
    spawn_writer();
    reader = spawn_reader();
    id = new_user({100, 0});
    user = spawn_user(id, spawn_fake_registry(), reader);
  }

  reader_actor reader;
  uuid id;
  user_actor user;
};

} // namespace

TEST_CASE_METHOD(one_key_fixture,
                 "seed 47: a retry with the stored body is not IDEMPOTENCY_KEY_REUSED while "
                 "another body's lookup of the key is in flight") {
  auto first = credit(user, 5, "k1", "body-a");
  run_jobs();
  REQUIRE(error_of(first) == error_code::none);
  auto newer = credit(user, 5, "k2", "body-b");  // evicts k1 from memory
  run_jobs();
  REQUIRE(error_of(newer) == error_code::none);

  // A client bug sends k1 with another body (a store lookup starts), and
  // the legitimate client retries k1 with its own body before it returns.
  auto other = credit(user, 6, "k1", "body-c");
  auto retry = credit(user, 5, "k1", "body-a");
  run_jobs();

  CHECK(error_of(other) == error_code::idempotency_key_reused);  // right: stored body differs
  // API.md: same key + same body -> replay (or 409 while a request with
  // the key is in flight); 422 says "you changed the body", which is false.
  auto code = error_of(retry);
  INFO("retry answered " << to_string(code));
  CHECK((code == error_code::none || code == error_code::idempotency_key_in_use));
  if (code == error_code::none) CHECK(ok_value(retry).replayed);
}
