// The write queue's coalescing of auth rows: identities by id, magic links
// by token hash, login codes by identity, sessions by id. The last write of
// a key wins, at the position of its first; everything else keeps arrival
// order. (Postgres refuses an upsert that touches one key twice in a
// statement, so the batch must hold one row per key.)
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "persistence/write_queue.hpp"

using namespace tally;

namespace {

entity_write write_of(const uuid& entity, uint64_t token, write_batch records) {
  entity_write write;
  write.entity = entity;
  write.epoch = 1;
  write.token = token;
  write.records = std::move(records);
  return write;
}

identity_row identity_of(const uuid& id, timestamp_us tat) {
  identity_row row;
  row.id = id;
  row.value = "x@example.com";
  row.owner_epoch = 1;
  row.request_limit_tat = tat;
  return row;
}

magic_link_row link_row(const std::string& hash, timestamp_us used_at) {
  magic_link_row row;
  row.token_hash = hash;
  row.used_at = used_at;
  return row;
}

login_code_row code_row(const uuid& identity_id, const std::string& hash) {
  login_code_row row;
  row.identity_id = identity_id;
  row.code_hash = hash;
  return row;
}

session_row session_row_of(const uuid& id, const std::string& refresh_hash) {
  session_row row;
  row.id = id;
  row.refresh_hash = refresh_hash;
  return row;
}

audit_row audit_line(const std::string& event) {
  audit_row row;
  row.id = random_uuid();
  row.event = event;
  return row;
}

template <class Row, class Field>
std::vector<Field> fields(const std::vector<Row>& rows, Field Row::*field) {
  std::vector<Field> out;
  for (const auto& row : rows) out.push_back(row.*field);
  return out;
}

} // namespace

TEST_CASE("the write queue coalesces auth rows by key: last one wins, at the first's position") {
  write_queue queue{1000};
  auto alice = random_uuid();  // an identity
  auto bob = random_uuid();    // another identity
  auto carol = random_uuid();  // a user, with two sessions
  auto session_1 = random_uuid();
  auto session_2 = random_uuid();

  write_batch a1;  // alice requests a link and a code
  a1.identities = {identity_of(alice, 1)};
  a1.magic_links = {link_row("L1", 0)};
  a1.login_codes = {code_row(alice, "C1")};
  a1.outbox = {outbox_row{random_uuid(), "email", "alice", "1", 0}};
  a1.audit = {audit_line("a1")};
  write_batch b1;  // bob requests a link
  b1.identities = {identity_of(bob, 10)};
  b1.magic_links = {link_row("L2", 0)};
  write_batch c1;  // carol logs in twice
  c1.sessions = {session_row_of(session_1, "R1"), session_row_of(session_2, "S1")};
  c1.refresh_tokens = {refresh_token_row{"R1", session_1, carol, 0}, refresh_token_row{"S1", session_2, carol, 0}};
  write_batch a2;  // alice uses L1, asks for a new code, and a new link in the same write
  a2.identities = {identity_of(alice, 2)};
  a2.magic_links = {link_row("L1", 7), link_row("L3", 0)};
  a2.login_codes = {code_row(alice, "C2")};
  a2.audit = {audit_line("a2")};
  write_batch c2;  // carol's first session rotates, twice
  c2.sessions = {session_row_of(session_1, "R2"), session_row_of(session_1, "R3")};
  c2.refresh_tokens = {refresh_token_row{"R2", session_1, carol, 0}, refresh_token_row{"R3", session_1, carol, 0}};
  write_batch b2;  // bob logs in: a user is created
  b2.identities = {identity_of(bob, 11)};
  b2.new_users = {user_row{random_uuid(), "bob", "", 0}};
  b2.magic_links = {link_row("L2", 9)};

  size_t received = 0;
  uint64_t token = 0;
  for (auto* write : {&a1, &b1, &c1, &a2, &c2, &b2}) {
    received += write->record_count();
    const auto& entity = write == &a1 || write == &a2 ? alice : write == &c1 || write == &c2 ? carol : bob;
    REQUIRE(queue.push(write_of(entity, ++token, *write)));
  }
  auto prepared = queue.take_batch();
  CHECK(queue.empty());
  CHECK(prepared.records_received == static_cast<int64_t>(received));
  const auto& batch = prepared.batch;

  REQUIRE(batch.identities.size() == 2);
  CHECK(batch.identities[0].id == alice);
  CHECK(batch.identities[0].request_limit_tat == 2);
  CHECK(batch.identities[1].id == bob);
  CHECK(batch.identities[1].request_limit_tat == 11);

  CHECK(fields(batch.magic_links, &magic_link_row::token_hash) == std::vector<std::string>{"L1", "L2", "L3"});
  CHECK(fields(batch.magic_links, &magic_link_row::used_at) == std::vector<timestamp_us>{7, 9, 0});

  REQUIRE(batch.login_codes.size() == 1);
  CHECK(batch.login_codes[0].code_hash == "C2");

  CHECK(fields(batch.sessions, &session_row::id) == std::vector<uuid>{session_1, session_2});
  CHECK(fields(batch.sessions, &session_row::refresh_hash) == std::vector<std::string>{"R3", "S1"});

  // Inserts are never coalesced: every row, in arrival order.
  CHECK(fields(batch.refresh_tokens, &refresh_token_row::token_hash) ==
        std::vector<std::string>{"R1", "S1", "R2", "R3"});
  CHECK(fields(batch.audit, &audit_row::event) == std::vector<std::string>{"a1", "a2"});
  CHECK(batch.outbox.size() == 1);
  CHECK(batch.new_users.size() == 1);

  // One member per entity, answered up to its newest token.
  REQUIRE(prepared.members.size() == 3);
  CHECK(prepared.members[0].entity == alice);
  CHECK(prepared.members[0].max_token == 4);
  CHECK(prepared.members[1].entity == bob);
  CHECK(prepared.members[1].max_token == 6);
  CHECK(prepared.members[2].entity == carol);
  CHECK(prepared.members[2].max_token == 5);
}

TEST_CASE("auth rows of different batches are not coalesced across them") {
  write_queue queue{3};
  auto alice = random_uuid();
  write_batch first;
  first.identities = {identity_of(alice, 1)};
  first.magic_links = {link_row("L1", 0)};
  write_batch second;
  second.identities = {identity_of(alice, 2)};
  second.magic_links = {link_row("L1", 5)};
  queue.push(write_of(alice, 1, first));
  queue.push(write_of(alice, 2, second));
  auto one = queue.take_batch();  // 2 + 2 records > 3: one write per batch
  auto two = queue.take_batch();
  REQUIRE(one.batch.magic_links.size() == 1);
  CHECK(one.batch.magic_links[0].used_at == 0);
  CHECK(one.batch.identities.at(0).request_limit_tat == 1);
  REQUIRE(two.batch.magic_links.size() == 1);
  CHECK(two.batch.magic_links[0].used_at == 5);
  CHECK(two.batch.identities.at(0).request_limit_tat == 2);
}
