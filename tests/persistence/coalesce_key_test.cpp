// Which record types the write queue keeps one row per key of, and by
// which key (persistence/coalesce_key.hpp). The behaviour of coalescing in
// a batch is tested in write_queue_auth_test.cpp and writer_sweep_test.cpp.
#include <catch2/catch.hpp>

#include "persistence/coalesce_key.hpp"
#include "protocols/uuid.hpp"

using namespace tally;

// Written by key: Postgres upserts or fenced UPDATE .. FROM these.
static_assert(is_coalesced_v<balance_write>);
static_assert(is_coalesced_v<identity_row>);
static_assert(is_coalesced_v<magic_link_row>);
static_assert(is_coalesced_v<login_code_row>);
static_assert(is_coalesced_v<session_row>);
// Append-only: every row is kept, in arrival order.
static_assert(!is_coalesced_v<user_row>);
static_assert(!is_coalesced_v<ledger_write>);
static_assert(!is_coalesced_v<idempotency_record>);
static_assert(!is_coalesced_v<refresh_token_row>);
static_assert(!is_coalesced_v<outbox_row>);
static_assert(!is_coalesced_v<audit_row>);

TEST_CASE("each keyed record type coalesces by the key its table is written by") {
  auto a = random_uuid();
  auto b = random_uuid();
  CHECK(coalesce_key(balance_write{a, 0, {}, 0, 0}) == a);
  identity_row identity;
  identity.id = a;
  identity.user_id = b;
  CHECK(coalesce_key(identity) == a);
  magic_link_row link;
  link.token_hash = "hash";
  link.identity_id = a;
  CHECK(coalesce_key(link) == "hash");
  login_code_row code;
  code.identity_id = a;
  CHECK(coalesce_key(code) == a);
  session_row session;
  session.id = a;
  session.user_id = b;
  CHECK(coalesce_key(session) == a);
}

TEST_CASE("a batch's record count covers every vector of its field list") {
  write_batch batch;
  CHECK(batch.empty());
  fields(batch, [](auto&... rows) { (rows.emplace_back(), ...); });
  auto vectors = fields(batch, [](auto&... rows) { return sizeof...(rows); });
  CHECK(vectors >= 15);  // every record type, tenants' included
  CHECK(batch.record_count() == vectors);
  CHECK_FALSE(batch.empty());
}
