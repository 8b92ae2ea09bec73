// The auth part of the store contract (persistence/store.hpp "auth" and the
// auth vectors of write_batch), run against SQLite always and against
// Postgres when TALLY_TEST_PG_URL is set. Every section starts from an empty
// database. What has no read method (outbox, audit log) is read back raw in
// sqlite_store_test.cpp and postgres_store_test.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "persistence/store.hpp"
#include "protocols/auth_tokens.hpp"
#include "tests/persistence/store_test_support.hpp"

using namespace tally;
using namespace tally::test;

namespace {

using store_opener = std::function<std::unique_ptr<store>()>;

identity_snapshot activate_email(store& db, const std::string& email, timestamp_us now = t0_us) {
  return db.activate_identity(identity_id(identity_kind::email, email), identity_kind::email, email, now);
}

identity_snapshot activate_phone(store& db, const std::string& phone, timestamp_us now = t0_us) {
  return db.activate_identity(identity_id(identity_kind::phone, phone), identity_kind::phone, phone, now);
}

void check_session(const std::optional<session_row>& found, const session_row& expected) {
  REQUIRE(found);
  CHECK(found->id == expected.id);
  CHECK(found->user_id == expected.user_id);
  CHECK(found->refresh_hash == expected.refresh_hash);
  CHECK(found->previous_refresh_hash == expected.previous_refresh_hash);
  CHECK(found->rotated_at == expected.rotated_at);
  CHECK(found->created_at == expected.created_at);
  CHECK(found->expires_at == expected.expires_at);
  CHECK(found->revoked_at == expected.revoked_at);
}

void check_auth_contract(const store_opener& open) {
  auto migrated = [&] {
    auto db = open();
    db->migrate();
    return db;
  };

  SECTION("activate_identity creates a missing identity, then bumps its epoch at every activation") {
    auto db = migrated();
    const std::string email = "new@example.com";
    auto first = activate_email(*db, email);
    CHECK(first.identity.id == identity_id(identity_kind::email, email));
    CHECK(first.identity.kind == identity_kind::email);
    CHECK(first.identity.value == email);
    CHECK(first.identity.user_id.is_nil());
    CHECK(first.identity.request_limit_tat == 0);
    CHECK(first.identity.owner_epoch == 1);
    CHECK(first.identity.created_at == t0_us);
    CHECK_FALSE(first.code);

    auto second = activate_email(*db, email, t0_us + 5);
    CHECK(second.identity.owner_epoch == 2);
    CHECK(second.identity.created_at == t0_us);  // found, not created again
    // Another connection (another node) takes it over at the next epoch.
    CHECK(activate_email(*open(), email).identity.owner_epoch == 3);

    auto phone = activate_phone(*db, "+15550100");
    CHECK(phone.identity.kind == identity_kind::phone);
    CHECK(phone.identity.value == "+15550100");
    CHECK(phone.identity.owner_epoch == 1);
  }

  SECTION("connections activating one new identity at the same time each get their own epoch") {
    constexpr int starters = 4;
    auto db = migrated();
    std::vector<int64_t> epochs(starters, 0);
    std::vector<std::string> errors(starters);
    std::vector<std::thread> threads;
    for (int i = 0; i < starters; ++i) {
      threads.emplace_back([&, i] {
        try {
          epochs[i] = activate_email(*open(), "race@example.com").identity.owner_epoch;
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    for (auto& thread : threads) thread.join();
    for (const auto& error : errors) CHECK(error == "");
    std::sort(epochs.begin(), epochs.end());
    CHECK(epochs == std::vector<int64_t>{1, 2, 3, 4});  // one row, bumped once per activation
  }

  SECTION("activate_identity links the user whose email or phone equals the value") {
    auto db = migrated();
    auto user = make_user("linked@example.com", "+15550101");
    db->create_user(user);
    CHECK(activate_email(*db, "linked@example.com").identity.user_id == user.id);
    CHECK(activate_phone(*db, "+15550101").identity.user_id == user.id);
    // Kinds do not cross: a phone identity is never linked through users.email.
    CHECK(activate_phone(*db, "linked@example.com").identity.user_id.is_nil());
    CHECK(activate_email(*db, "other@example.com").identity.user_id.is_nil());

    // An identity stored before its user existed (a link was requested,
    // then the operator created the user) is linked at its next activation.
    CHECK(activate_email(*db, "early@example.com").identity.user_id.is_nil());
    auto early = make_user("early@example.com");
    db->create_user(early);
    auto relinked = activate_email(*db, "early@example.com");
    CHECK(relinked.identity.user_id == early.id);
    CHECK(relinked.identity.owner_epoch == 2);
  }

  SECTION("a first login commits the new user with its identity, code and session in one batch") {
    auto db = migrated();
    auto snapshot = activate_phone(*db, "+15550102");
    auto user = make_user("", "+15550102");
    auto identity = snapshot.identity;
    identity.user_id = user.id;
    identity.request_limit_tat = t0_us + 12'000'000;
    auto code = make_code(identity.id, "code", t0_us + 300'000'000);
    code.failures = 2;
    code.next_attempt_at = t0_us + 1'000'000;
    code.locked = true;
    auto session = make_session(user.id, "refresh-1", t0_us + 30 * day_us);

    write_batch batch;
    batch.new_users.push_back(user);
    batch.identities.push_back(identity);
    batch.login_codes.push_back(code);
    batch.sessions.push_back(session);
    batch.refresh_tokens.push_back(make_refresh_token(session, "refresh-1"));
    batch.audit.push_back(make_audit("login_succeeded", user.id, session.id));
    db->commit(batch);

    auto other = open();  // committed, not cached
    auto again = activate_phone(*other, "+15550102");
    CHECK(again.identity.user_id == user.id);
    CHECK(again.identity.request_limit_tat == t0_us + 12'000'000);
    CHECK(again.identity.owner_epoch == snapshot.identity.owner_epoch + 1);
    REQUIRE(again.code);
    CHECK(again.code->identity_id == identity.id);
    CHECK(again.code->code_hash == code.code_hash);
    CHECK(again.code->created_at == code.created_at);
    CHECK(again.code->expires_at == code.expires_at);
    CHECK(again.code->failures == 2);
    CHECK(again.code->next_attempt_at == t0_us + 1'000'000);
    CHECK(again.code->locked);

    auto loaded_user = other->activate_user(user.id, 1, 0);
    REQUIRE(loaded_user);
    CHECK(loaded_user->user.phone == "+15550102");
    CHECK(loaded_user->user.email.empty());
    CHECK(loaded_user->user.created_at == user.created_at);
    CHECK(loaded_user->bal == balance{0, 0});
    check_session(other->find_session(user.id, session.id), session);
    auto token = other->find_refresh_token(fake_hash("refresh-1"));
    REQUIRE(token);
    CHECK(token->session_id == session.id);
    CHECK(token->user_id == user.id);
    CHECK(token->issued_at == t0_us);
  }

  SECTION("a stale-epoch identity write is fenced and rolls the whole batch back") {
    auto db = migrated();
    const std::string email = "fenced@example.com";
    auto stale = activate_email(*db, email).identity;
    auto current_epoch = activate_email(*db, email).identity.owner_epoch;  // another node took it over
    auto owner = make_user();
    db->create_user(owner);
    auto owner_epoch = db->activate_user(owner.id, 1, 0)->owner_epoch;

    auto fresh_user = make_user(email);
    auto identity = stale;
    identity.user_id = fresh_user.id;
    identity.request_limit_tat = t0_us + 99;
    auto link = make_magic_link(identity.id, "link", t0_us + 900'000'000);
    auto session = make_session(fresh_user.id, "refresh", t0_us + day_us);
    write_batch batch;
    batch.new_users.push_back(fresh_user);
    batch.balances.push_back(make_balance(owner.id, owner_epoch, {10, 0}, 1));
    batch.ledger.push_back(make_ledger(owner.id, 1, ledger_type::grant, 10, {10, 0}));
    batch.identities.push_back(identity);
    batch.magic_links.push_back(link);
    batch.login_codes.push_back(make_code(identity.id, "code", t0_us + 300'000'000));
    batch.sessions.push_back(session);
    batch.refresh_tokens.push_back(make_refresh_token(session, "refresh"));
    batch.outbox.push_back(make_outbox(email));
    batch.audit.push_back(make_audit("login_succeeded", fresh_user.id, session.id));
    CHECK(fault_of([&] { db->commit(batch); }) == store_fault::fenced);

    CHECK_FALSE(db->activate_user(fresh_user.id, 1, 0));
    auto owner_now = db->activate_user(owner.id, 1, 0);
    CHECK(owner_now->bal == balance{0, 0});
    CHECK(db->read_ledger(owner.id, ledger_query{}).entries.empty());
    CHECK_FALSE(db->find_magic_link(link.token_hash));
    CHECK_FALSE(db->find_session(fresh_user.id, session.id));
    CHECK_FALSE(db->find_refresh_token(fake_hash("refresh")));
    auto identity_now = activate_email(*db, email);
    CHECK(identity_now.identity.user_id.is_nil());
    CHECK(identity_now.identity.request_limit_tat == 0);
    CHECK_FALSE(identity_now.code);
    CHECK(identity_now.identity.owner_epoch == current_epoch + 1);

    // The same batch at the current epochs commits: the outbox and audit
    // rows (plain inserts) were rolled back too, or their ids would clash.
    batch.identities[0].owner_epoch = identity_now.identity.owner_epoch;
    batch.balances[0].owner_epoch = owner_now->owner_epoch;
    db->commit(batch);
    CHECK(activate_email(*db, email).identity.user_id == fresh_user.id);
    CHECK(db->find_magic_link(link.token_hash));
    CHECK(db->activate_user(owner.id, 1, 0)->bal == balance{10, 0});
  }

  SECTION("an identity write for an identity never stored is fenced") {
    auto db = migrated();
    identity_row ghost;
    ghost.id = identity_id(identity_kind::email, "ghost@example.com");
    ghost.value = "ghost@example.com";
    ghost.owner_epoch = 1;
    write_batch batch;
    batch.identities.push_back(ghost);
    CHECK(fault_of([&] { db->commit(batch); }) == store_fault::fenced);
  }

  SECTION("a new user with a taken id, email or phone fails its batch as permanent") {
    auto db = migrated();
    auto existing = make_user("taken@example.com", "+15550103");
    db->create_user(existing);
    auto same_id = make_user("free@example.com");
    same_id.id = existing.id;
    for (const auto& duplicate : {make_user("taken@example.com"), make_user("", "+15550103"), same_id}) {
      auto link = make_magic_link(random_uuid(), "link-" + to_string(duplicate.id), t0_us + day_us);
      write_batch batch;
      batch.new_users.push_back(duplicate);
      batch.magic_links.push_back(link);
      CHECK(fault_of([&] { db->commit(batch); }) == store_fault::permanent);
      CHECK_FALSE(db->find_magic_link(link.token_hash));
    }
    // Two users without email or phone never collide (NULL, not '').
    write_batch anonymous;
    anonymous.new_users = {make_user(), make_user()};
    db->commit(anonymous);
    CHECK(db->activate_user(anonymous.new_users[1].id, 1, 0));
  }

  SECTION("magic links, codes and sessions are upserts: a later write replaces the row") {
    auto db = migrated();
    auto identity = activate_email(*db, "upsert@example.com").identity;
    auto user = make_user("upsert@example.com");
    db->create_user(user);

    auto link = make_magic_link(identity.id, "link", t0_us + 900'000'000);
    write_batch issue;
    issue.magic_links.push_back(link);
    issue.login_codes.push_back(make_code(identity.id, "first code", t0_us + 300'000'000));
    auto session = make_session(user.id, "refresh-1", t0_us + 30 * day_us);
    issue.sessions.push_back(session);
    db->commit(issue);
    auto issued = db->find_magic_link(link.token_hash);
    REQUIRE(issued);
    CHECK(issued->used_at == 0);

    write_batch use;
    link.used_at = t0_us + 7;
    use.magic_links.push_back(link);
    auto second_code = make_code(identity.id, "second code", t0_us + 600'000'000);
    use.login_codes.push_back(second_code);
    session.previous_refresh_hash = session.refresh_hash;
    session.refresh_hash = fake_hash("refresh-2");
    session.rotated_at = t0_us + 60'000'000;
    session.expires_at += 60'000'000;
    use.sessions.push_back(session);
    db->commit(use);
    auto used = db->find_magic_link(link.token_hash);
    REQUIRE(used);
    CHECK(used->used_at == t0_us + 7);
    CHECK(used->identity_id == identity.id);
    auto code = activate_email(*db, "upsert@example.com").code;
    REQUIRE(code);
    CHECK(code->code_hash == second_code.code_hash);
    CHECK(code->expires_at == second_code.expires_at);
    CHECK(code->failures == 0);
    CHECK_FALSE(code->locked);
    check_session(db->find_session(user.id, session.id), session);

    write_batch revoke;
    session.revoked_at = t0_us + 120'000'000;
    revoke.sessions.push_back(session);
    db->commit(revoke);
    check_session(db->find_session(user.id, session.id), session);
  }

  SECTION("find_* return exactly what was committed, and nothing for unknown keys") {
    auto db = migrated();
    auto user = make_user();
    db->create_user(user);
    auto identity = activate_email(*db, "find@example.com").identity;
    auto link = make_magic_link(identity.id, "link", t0_us + 900'000'000, t0_us + 3);
    auto session = make_session(user.id, "current", t0_us + 30 * day_us);
    session.previous_refresh_hash = fake_hash("previous");
    session.rotated_at = t0_us + 11;
    session.revoked_at = t0_us + 13;
    write_batch batch;
    batch.magic_links.push_back(link);
    batch.sessions.push_back(session);
    batch.refresh_tokens.push_back(make_refresh_token(session, "previous"));
    batch.refresh_tokens.push_back(make_refresh_token(session, "current"));
    db->commit(batch);

    auto found_link = db->find_magic_link(link.token_hash);
    REQUIRE(found_link);
    CHECK(found_link->token_hash == link.token_hash);
    CHECK(found_link->identity_id == identity.id);
    CHECK(found_link->created_at == link.created_at);
    CHECK(found_link->expires_at == link.expires_at);
    CHECK(found_link->used_at == t0_us + 3);
    check_session(db->find_session(user.id, session.id), session);
    for (const char* seed : {"previous", "current"}) {
      auto token = db->find_refresh_token(fake_hash(seed));
      REQUIRE(token);
      CHECK(token->token_hash == fake_hash(seed));
      CHECK(token->session_id == session.id);
      CHECK(token->user_id == user.id);
    }

    CHECK_FALSE(db->find_magic_link(fake_hash("unknown")));
    CHECK_FALSE(db->find_magic_link(""));
    CHECK_FALSE(db->find_refresh_token(fake_hash("unknown")));
    CHECK_FALSE(db->find_session(user.id, random_uuid()));
    CHECK_FALSE(db->find_session(random_uuid(), session.id));  // another user's session
  }

  SECTION("refresh tokens, outbox and audit rows are inserts: a duplicate key fails the batch") {
    auto db = migrated();
    auto user = make_user();
    db->create_user(user);
    auto session = make_session(user.id, "r", t0_us + day_us);
    auto message = make_outbox("dup@example.com");
    auto line = make_audit("login_failed");  // nil user and session: stored as NULL
    write_batch batch;
    batch.sessions.push_back(session);
    batch.refresh_tokens.push_back(make_refresh_token(session, "r"));
    batch.outbox.push_back(message);
    batch.audit.push_back(line);
    db->commit(batch);

    write_batch again_token;
    again_token.refresh_tokens.push_back(make_refresh_token(session, "r"));
    CHECK(fault_of([&] { db->commit(again_token); }) == store_fault::permanent);
    write_batch again_outbox;
    again_outbox.outbox.push_back(message);
    CHECK(fault_of([&] { db->commit(again_outbox); }) == store_fault::permanent);
    write_batch again_audit;
    again_audit.audit.push_back(line);
    CHECK(fault_of([&] { db->commit(again_audit); }) == store_fault::permanent);
    write_batch bad_channel;
    bad_channel.outbox.push_back(make_outbox("+15550104"));
    bad_channel.outbox.back().channel = "pigeon";
    CHECK(fault_of([&] { db->commit(bad_channel); }) == store_fault::permanent);
    // The store still works after the failures.
    write_batch fine;
    fine.outbox.push_back(make_outbox("+15550104"));
    fine.outbox.back().channel = "sms";
    fine.audit.push_back(make_audit("logged_out", user.id, session.id));
    db->commit(fine);
  }

  SECTION("create_session inserts a session and its first refresh token") {
    auto db = migrated();
    auto user = make_user();
    db->create_user(user);
    auto session = make_session(user.id, "minted", t0_us + 30 * day_us);
    db->create_session(session, make_refresh_token(session, "minted"));
    check_session(open()->find_session(user.id, session.id), session);
    REQUIRE(db->find_refresh_token(fake_hash("minted")));

    // Unknown user: permanent, and neither row stays behind.
    auto orphan = make_session(random_uuid(), "orphan", t0_us + day_us);
    CHECK(fault_of([&] { db->create_session(orphan, make_refresh_token(orphan, "orphan")); }) ==
          store_fault::permanent);
    CHECK_FALSE(db->find_session(orphan.user_id, orphan.id));
    CHECK_FALSE(db->find_refresh_token(fake_hash("orphan")));

    // A taken session id: permanent, and the new token is not stored.
    auto taken = make_session(user.id, "taken", t0_us + day_us);
    taken.id = session.id;
    CHECK(fault_of([&] { db->create_session(taken, make_refresh_token(taken, "taken")); }) ==
          store_fault::permanent);
    CHECK_FALSE(db->find_refresh_token(fake_hash("taken")));
    check_session(db->find_session(user.id, session.id), session);
  }

  SECTION("delete_expired_auth deletes exactly what expired or was revoked more than a day ago") {
    auto db = migrated();
    const timestamp_us now = t0_us + 10 * day_us;
    const timestamp_us cutoff = now - day_us;  // strictly before this goes
    auto user = make_user();
    db->create_user(user);
    auto identity = activate_email(*db, "sweep@example.com").identity;
    auto phone = activate_phone(*db, "+15550105").identity;
    auto other_phone = activate_phone(*db, "+15550106").identity;

    write_batch batch;
    auto gone_link = make_magic_link(identity.id, "gone link", cutoff - 1, cutoff - 100);
    auto kept_link = make_magic_link(identity.id, "kept link", cutoff);
    batch.magic_links = {gone_link, kept_link};
    batch.login_codes = {make_code(phone.id, "gone code", cutoff - 1), make_code(other_phone.id, "kept code", cutoff)};
    auto expired = make_session(user.id, "expired", cutoff - 1);
    auto revoked = make_session(user.id, "revoked", now + 20 * day_us);
    revoked.revoked_at = cutoff - 1;
    auto recently_revoked = make_session(user.id, "recently revoked", now + 20 * day_us);
    recently_revoked.revoked_at = cutoff;
    auto recently_expired = make_session(user.id, "recently expired", cutoff);
    auto live = make_session(user.id, "live", now + 20 * day_us);
    batch.sessions = {expired, revoked, recently_revoked, recently_expired, live};
    batch.refresh_tokens = {make_refresh_token(expired, "expired"), make_refresh_token(expired, "expired old"),
                            make_refresh_token(revoked, "revoked"),
                            make_refresh_token(recently_revoked, "recently revoked"),
                            make_refresh_token(recently_expired, "recently expired"),
                            make_refresh_token(live, "live")};
    batch.outbox.push_back(make_outbox("sweep@example.com"));
    batch.outbox.back().created_at = cutoff - day_us;  // kept: its consumer owns its retention
    batch.audit.push_back(make_audit("login_succeeded", user.id, expired.id));
    batch.audit.back().created_at = cutoff - day_us;
    db->commit(batch);

    // 1 link + 1 code + 2 sessions + their 3 tokens.
    CHECK(db->delete_expired_auth(now) == 7);
    CHECK_FALSE(db->find_magic_link(gone_link.token_hash));
    CHECK(db->find_magic_link(kept_link.token_hash));
    CHECK_FALSE(activate_phone(*db, "+15550105").code);
    CHECK(activate_phone(*db, "+15550106").code);
    CHECK_FALSE(db->find_session(user.id, expired.id));
    CHECK_FALSE(db->find_session(user.id, revoked.id));
    for (const auto* kept : {&recently_revoked, &recently_expired, &live})
      check_session(db->find_session(user.id, kept->id), *kept);
    for (const char* seed : {"expired", "expired old", "revoked"}) CHECK_FALSE(db->find_refresh_token(fake_hash(seed)));
    for (const char* seed : {"recently revoked", "recently expired", "live"})
      CHECK(db->find_refresh_token(fake_hash(seed)));
    CHECK(db->delete_expired_auth(now) == 0);

    // The outbox and audit rows are still there: inserting them again clashes.
    write_batch again;
    again.outbox = batch.outbox;
    CHECK(fault_of([&] { db->commit(again); }) == store_fault::permanent);
    again.outbox.clear();
    again.audit = batch.audit;
    CHECK(fault_of([&] { db->commit(again); }) == store_fault::permanent);
  }

  SECTION("awkward text in auth rows round-trips exactly") {
    auto db = migrated();
    const std::string awkward = "o'brien+\"tag\"\\{x},NULL@example.com";
    auto snapshot = activate_email(*db, awkward);
    CHECK(snapshot.identity.value == awkward);
    auto user = make_user(awkward);
    auto identity = snapshot.identity;
    identity.user_id = user.id;
    auto link = make_magic_link(identity.id, "awkward", t0_us + day_us);
    link.token_hash = awkward;  // not a real hash: only the round trip matters
    write_batch batch;
    batch.new_users.push_back(user);
    batch.identities.push_back(identity);
    batch.magic_links.push_back(link);
    db->commit(batch);
    CHECK(db->find_magic_link(awkward));
    CHECK(db->activate_user(user.id, 1, 0)->user.email == awkward);
    CHECK(activate_email(*db, awkward).identity.user_id == user.id);
  }

  SECTION("a batch of many logins commits completely") {
    constexpr int logins = 300;
    auto db = migrated();
    write_batch batch;
    std::vector<session_row> sessions;
    for (int i = 0; i < logins; ++i) {
      auto user = make_user("u" + std::to_string(i) + "@example.com");
      batch.new_users.push_back(user);
      sessions.push_back(make_session(user.id, "s" + std::to_string(i), t0_us + day_us));
      batch.sessions.push_back(sessions.back());
      batch.refresh_tokens.push_back(make_refresh_token(sessions.back(), "s" + std::to_string(i)));
      batch.audit.push_back(make_audit("login_succeeded", user.id, sessions.back().id));
    }
    db->commit(batch);
    for (int i = 0; i < logins; i += 37) {
      check_session(db->find_session(sessions[i].user_id, sessions[i].id), sessions[i]);
      CHECK(activate_email(*db, "u" + std::to_string(i) + "@example.com").identity.user_id == sessions[i].user_id);
    }
  }
}

} // namespace

TEST_CASE("sqlite store keeps the auth store contract", "[store][sqlite][auth]") {
  temp_dir dir;
  auto url = "sqlite:" + (dir.path / "tally.db").string();
  check_auth_contract([&] { return open_store(url); });
}

TEST_CASE("postgres store keeps the auth store contract", "[store][postgres][auth]") {
  auto server = postgres_test_url();
  if (!server) {
    WARN("TALLY_TEST_PG_URL is not set: Postgres store cases skipped");
    return;
  }
  postgres_schema schema(*server);
  check_auth_contract([&] { return open_store(schema.url); });
}
