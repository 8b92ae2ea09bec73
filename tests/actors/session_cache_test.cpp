// tests/actors/session_cache_test.cpp: the compact in-memory session store
// (actors/session_cache.hpp) gives back exactly the rows it was given and
// keeps its LRU bound.
#include <catch2/catch.hpp>

#include "actors/session_cache.hpp"
#include "protocols/secrets.hpp"

namespace tally {
namespace {

session_row sample_row() {
  session_row row;
  row.id = random_uuid();
  row.user_id = random_uuid();
  row.refresh_hash = sha256_hex("current");
  row.previous_refresh_hash = sha256_hex("previous");
  row.rotated_at = 11;
  row.created_at = 22;
  row.expires_at = 33;
  row.revoked_at = 44;
  return row;
}

void check_same(const session_row& a, const session_row& b) {
  CHECK(a.id == b.id);
  CHECK(a.user_id == b.user_id);
  CHECK(a.refresh_hash == b.refresh_hash);
  CHECK(a.previous_refresh_hash == b.previous_refresh_hash);
  CHECK(a.rotated_at == b.rotated_at);
  CHECK(a.created_at == b.created_at);
  CHECK(a.expires_at == b.expires_at);
  CHECK(a.revoked_at == b.revoked_at);
}

} // namespace

TEST_CASE("a compact session row round-trips every field") {
  compact_session_row compact;
  SECTION("SHA-256 hex hashes (what Tally writes)") {
    auto row = sample_row();
    compact.assign(row);
    check_same(compact.row(), row);
  }
  SECTION("no previous hash, and hashes of other lengths (odd, md5)") {
    auto row = sample_row();
    row.previous_refresh_hash.clear();
    row.refresh_hash = "0123456789abcdef0123456789abcde";  // 31 digits
    compact.assign(row);
    check_same(compact.row(), row);
  }
  SECTION("text that is not lower-case hex, or too long, is kept as is") {
    auto row = sample_row();
    row.refresh_hash = "ABCDEF not hex";
    compact.assign(row);
    check_same(compact.row(), row);
    row.refresh_hash = sha256_hex("x") + "00";  // 66 digits
    compact.assign(row);
    check_same(compact.row(), row);
    // Back to packable: the unpacked copy must not linger.
    auto packable = sample_row();
    compact.assign(packable);
    check_same(compact.row(), packable);
  }
  SECTION("without_hashes has the decision fields and no hashes") {
    auto row = sample_row();
    compact.assign(row);
    auto light = compact.without_hashes();
    CHECK(light.user_id == row.user_id);
    CHECK(light.expires_at == row.expires_at);
    CHECK(light.revoked_at == row.revoked_at);
    CHECK(light.refresh_hash.empty());
    CHECK(compact.id() == row.id);
  }
}

TEST_CASE("the session cache finds, erases and evicts the least recently used") {
  session_cache cache{2};
  auto a = random_uuid();
  auto b = random_uuid();
  auto c = random_uuid();
  cache.add(a, 0).loading = false;
  cache.add(b, 0).loading = false;
  REQUIRE(cache.find(a) != nullptr);  // a is now more recent than b
  cache.add(c, 0).loading = false;
  CHECK(cache.size() == 2);
  CHECK(cache.find(b) == nullptr);
  CHECK(cache.find(a) != nullptr);
  CHECK(cache.find(c) != nullptr);
  CHECK(cache.find(c)->row.id() == c);  // the key is the row's id

  // Loading entries and entries with uncommitted writes are never evicted.
  session_cache pending{1};
  pending.add(a, 0);  // loading
  pending.add(b, 0).loading = false;
  CHECK(pending.size() == 2);
  pending.find(b)->write_token = 5;
  pending.find(a)->loading = false;
  pending.find(a)->write_token = 7;
  pending.add(c, 4);  // nothing committed up to 4 beyond token 5, 7
  CHECK(pending.size() == 3);
  pending.add(random_uuid(), 5);  // b's write committed: b may go
  CHECK(pending.find(b) == nullptr);

  cache.erase(a);
  CHECK(cache.find(a) == nullptr);
  CHECK(cache.size() == 1);
}

TEST_CASE("waiting commands are kept only while they wait") {
  session_cache cache{4};
  auto& entry = cache.add(random_uuid(), 0);
  CHECK(entry.waiting == nullptr);
  int ran = 0;
  entry.wait([&](const failure*) { ++ran; });
  entry.wait([&](const failure*) { ++ran; });
  auto taken = cache.take_all_waiting();
  CHECK(taken.size() == 2);
  for (auto& command : taken) command(nullptr);
  CHECK(ran == 2);
  CHECK(entry.waiting == nullptr);
  CHECK(entry.take_waiting().empty());
  cache.clear();
  CHECK(cache.size() == 0);
}

} // namespace tally
