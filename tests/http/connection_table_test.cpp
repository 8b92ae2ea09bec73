// http/connection_table: idle connections give way, busy ones are kept,
// per-IP and total caps.
#include <catch2/catch.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "http/connection_table.hpp"

using namespace tally;

namespace {

struct fake_connection : evictable {
  int evictions = 0;
  void evict() override { ++evictions; }
};

} // namespace

TEST_CASE("at the cap the oldest idle connection is evicted for a newcomer") {
  connection_table table({3, 10});
  std::vector<std::shared_ptr<fake_connection>> owners;
  std::vector<connection_table::slot_id> slots;
  for (int i = 0; i < 3; ++i) {
    auto decision = table.admit("10.0.0." + std::to_string(i));
    REQUIRE(decision.verdict == admission::admitted);
    owners.push_back(std::make_shared<fake_connection>());
    slots.push_back(decision.slot);
  }
  table.mark_idle(slots[1], owners[1]);
  table.mark_idle(slots[0], owners[0]);
  auto newcomer = table.admit("10.0.0.9");
  CHECK(newcomer.verdict == admission::admitted_evicted);
  CHECK(owners[1]->evictions == 1);  // idle the longest
  CHECK(owners[0]->evictions == 0);
  CHECK(table.open() == 3);
  // The evicted connection learns it when it wakes up, and its release is a no-op.
  CHECK_FALSE(table.mark_busy(slots[1]));
  table.release(slots[1]);
  CHECK(table.open() == 3);
  CHECK(table.mark_busy(slots[0]));
  // Nothing idle any more: refused.
  CHECK(table.admit("10.0.0.10").verdict == admission::refused_total);
  table.release(slots[2]);
  CHECK(table.admit("10.0.0.10").verdict == admission::admitted);
}

TEST_CASE("one IP is capped; it evicts only its own idle connections") {
  connection_table table({100, 2});
  auto other = table.admit("10.0.0.2");
  auto other_owner = std::make_shared<fake_connection>();
  table.mark_idle(other.slot, other_owner);
  auto a = table.admit("10.0.0.1");
  auto b = table.admit("10.0.0.1");
  REQUIRE(b.verdict == admission::admitted);
  CHECK(table.admit("10.0.0.1").verdict == admission::refused_ip);
  CHECK(other_owner->evictions == 0);
  auto owner_a = std::make_shared<fake_connection>();
  table.mark_idle(a.slot, owner_a);
  CHECK(table.admit("10.0.0.1").verdict == admission::admitted_evicted);
  CHECK(owner_a->evictions == 1);
  CHECK(table.open_from("10.0.0.1") == 2);
  CHECK(table.open_from("10.0.0.2") == 1);
}

TEST_CASE("a busy connection is never evicted; a gone owner still frees its slot") {
  connection_table table({1, 1});
  auto first = table.admit("ip");
  {
    auto owner = std::make_shared<fake_connection>();
    table.mark_idle(first.slot, owner);
    CHECK(table.mark_busy(first.slot));
  }
  CHECK(table.admit("other").verdict == admission::refused_total);
  {
    auto owner = std::make_shared<fake_connection>();
    table.mark_idle(first.slot, owner);
  }  // the owner is gone before its release ran
  CHECK(table.admit("other").verdict == admission::admitted_evicted);
  table.release(first.slot);
  CHECK(table.open() == 1);
  CHECK(table.idle() == 0);
}

TEST_CASE("racing connections never exceed the caps, and every slot comes back") {
  // Threads play connections of four IPs: admit, go idle, wake up (or find
  // themselves evicted), release; newcomers evict each other's idle slots.
  constexpr size_t total_max = 16;
  constexpr size_t per_ip_max = 6;
  connection_table table({total_max, per_ip_max});
  std::atomic<bool> over_cap{false};
  std::atomic<int> evictions{0};
  struct counting_connection : evictable {
    std::atomic<int>* count;
    void evict() override { count->fetch_add(1); }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      auto ip = "10.0.0." + std::to_string(t % 4);
      std::vector<std::pair<connection_table::slot_id, std::shared_ptr<counting_connection>>> kept;
      for (int i = 0; i < 5'000; ++i) {
        auto decision = table.admit(ip);
        if (table.open() > total_max || table.open_from(ip) > per_ip_max) over_cap = true;
        if (decision.slot == 0) continue;
        auto owner = std::make_shared<counting_connection>();
        owner->count = &evictions;
        table.mark_idle(decision.slot, owner);
        if (i % 3 == 0) table.mark_busy(decision.slot);
        if (i % 2 == 0) table.release(decision.slot);
        else kept.emplace_back(decision.slot, owner);
      }
      for (auto& [slot, owner] : kept) table.release(slot);
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK_FALSE(over_cap.load());
  CHECK(table.open() == 0);
  CHECK(table.idle() == 0);
  CHECK(evictions.load() > 0);
}
