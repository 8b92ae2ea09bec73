// The payment-webhook part of the store contract (migration 3), on SQLite
// always and on Postgres when TALLY_TEST_PG_URL is set: event records merge
// monotonically, a second payment row for one object fails its whole batch,
// and the sweep deletes old event records only.
#include <catch2/catch.hpp>

#include <functional>
#include <memory>

#include "persistence/store.hpp"
#include "tests/persistence/store_test_support.hpp"

using namespace tally;
using namespace tally::test;

namespace {

webhook_event_row event_row(const std::string& event_id, webhook_status status, int64_t deliveries,
                            timestamp_us first_seen_at, timestamp_us processed_at) {
  return {webhook_event_key(event_id), event_id, "checkout.session.completed", status, deliveries,
          first_seen_at, processed_at};
}

payment_row payment(const std::string& object_id, const uuid& user, const std::string& event_id) {
  return {payment_object_key(object_id), object_id, user, 100, event_id, 1'700'000'000'000'000};
}

void check_webhook_contract(const std::function<std::unique_ptr<store>()>& open) {
  auto db = open();
  db->migrate();

  SECTION("an event record round-trips and merges monotonically") {
    CHECK_FALSE(db->find_webhook_event(webhook_event_key("evt_1")));
    write_batch first;
    first.webhook_events.push_back(event_row("evt_1", webhook_status::processed, 1, 10, 20));
    db->commit(first);
    // A later write that knows less (a stale count, another status) undoes nothing.
    write_batch stale;
    stale.webhook_events.push_back(event_row("evt_1", webhook_status::duplicate, 1, 15, 0));
    db->commit(stale);
    write_batch more;
    more.webhook_events.push_back(event_row("evt_1", webhook_status::duplicate, 5, 15, 0));
    db->commit(more);
    auto found = db->find_webhook_event(webhook_event_key("evt_1"));
    REQUIRE(found);
    CHECK(found->event_id == "evt_1");
    CHECK(found->status == webhook_status::processed);
    CHECK(found->deliveries == 5);
    CHECK(found->first_seen_at == 10);
    CHECK(found->processed_at == 20);
  }

  SECTION("a second payment row for one object fails its whole batch") {
    auto user = make_user("pay@example.com");
    db->create_user(user);
    write_batch first;
    first.payments.push_back(payment("cs_1", user.id, "evt_1"));
    db->commit(first);
    auto found = db->find_payment(payment_object_key("cs_1"));
    REQUIRE(found);
    CHECK(found->object_id == "cs_1");
    CHECK(found->user_id == user.id);
    CHECK(found->credits == 100);
    CHECK(found->event_id == "evt_1");

    write_batch second;
    second.webhook_events.push_back(event_row("evt_2", webhook_status::processed, 1, 30, 31));
    second.payments.push_back(payment("cs_1", user.id, "evt_2"));
    CHECK(fault_of([&] { db->commit(second); }) == store_fault::permanent);
    CHECK_FALSE(db->find_webhook_event(webhook_event_key("evt_2")));
    CHECK(db->find_payment(payment_object_key("cs_1"))->event_id == "evt_1");
  }

  SECTION("the sweep deletes event records seen before the cut-off, never payments") {
    auto user = make_user("sweep@example.com");
    db->create_user(user);
    write_batch rows;
    rows.webhook_events.push_back(event_row("evt_old", webhook_status::ignored, 1, 100, 0));
    rows.webhook_events.push_back(event_row("evt_new", webhook_status::processed, 1, 300, 301));
    rows.payments.push_back(payment("cs_old", user.id, "evt_old"));
    db->commit(rows);
    CHECK(db->delete_webhook_events_before(200) == 1);
    CHECK_FALSE(db->find_webhook_event(webhook_event_key("evt_old")));
    CHECK(db->find_webhook_event(webhook_event_key("evt_new")));
    CHECK(db->find_payment(payment_object_key("cs_old")));
    CHECK(db->delete_webhook_events_before(200) == 0);
  }
}

} // namespace

TEST_CASE("sqlite store keeps the webhook contract", "[store][sqlite][webhook]") {
  temp_dir dir;
  auto url = "sqlite:" + (dir.path / "tally.db").string();
  check_webhook_contract([&] { return open_store(url); });
}

TEST_CASE("postgres store keeps the webhook contract", "[store][postgres][webhook]") {
  auto server = postgres_test_url();
  if (!server) {
    WARN("TALLY_TEST_PG_URL is not set: Postgres store cases skipped");
    return;
  }
  postgres_schema schema(*server);
  check_webhook_contract([&] { return open_store(schema.url); });
}
