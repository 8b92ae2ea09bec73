// http/cluster_forwarder on its own: the bounds and the shutdown. Every
// completion is called exactly once, whatever happens (the two-node test,
// tests/cluster/two_nodes_test.cpp, covers the round trips).
#include <catch2/catch.hpp>


#include <chrono>
#include <atomic>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include "http/cluster_forwarder.hpp"
#include "protocols/cluster_wire.hpp"
#include "protocols/forwarding_metrics.hpp"
#include "protocols/log.hpp"
#include "protocols/metrics.hpp"
#include "tests/http/loopback_sockets.hpp"

using namespace tally;
using namespace std::chrono_literals;
using test::frozen_listener;

namespace {

/// Every shard is on one remote address.
struct one_owner : shard_directory {
  std::string address;
  bool serves(int) const override { return false; }
  shard_route route(int) const override { return {shard_place::remote, "frozen", address}; }
  void refresh_soon() override {}
};


struct answer_counter {
  std::shared_ptr<std::promise<failure>> first = std::make_shared<std::promise<failure>>();
  std::shared_ptr<std::atomic<int>> calls = std::make_shared<std::atomic<int>>(0);
  std::shared_future<failure> answer = first->get_future().share();
  completion make() {
    return completion{reply<balance>{[first = first, calls = calls](outcome<balance> got) {
      if (calls->fetch_add(1) == 0) first->set_value(got.ok() ? failure{error_code::none, "", 0} : got.error());
    }}};
  }
};

struct forwarder_fixture {
  frozen_listener frozen;
  one_owner directory;
  metrics process_metrics;
  forwarding_metrics stats{process_metrics};
  forwarding_config config;

  forwarder_fixture() {
    set_log_level(log_level::error);
    directory.address = "127.0.0.1:" + std::to_string(frozen.port);
    config.timeout = 5s;  // longer than the test: only stop() can end the calls
  }

  static envelope some_command() { return envelope{random_uuid(), to_entity_command(balance_request{random_uuid()})}; }
};

} // namespace

TEST_CASE_METHOD(forwarder_fixture, "stop() completes every call in flight or queued, once, with shard_unavailable") {
  config.calls_per_peer_max = 2;
  cluster_forwarder forwarder{config, directory, cluster_auth_key("s"), &stats};
  std::vector<answer_counter> answers(5);
  for (auto& a : answers) forwarder.forward(some_command(), a.make());  // 2 in flight, 3 queued
  std::this_thread::sleep_for(100ms);  // let them connect to the frozen peer
  for (auto& a : answers) CHECK(a.answer.wait_for(0s) == std::future_status::timeout);

  auto started = std::chrono::steady_clock::now();
  forwarder.stop();
  CHECK(std::chrono::steady_clock::now() - started < 1s);
  for (auto& a : answers) {
    REQUIRE(a.answer.wait_for(0s) == std::future_status::ready);
    auto why = a.answer.get();
    CHECK(why.code == error_code::shard_unavailable);
    CHECK(why.retry_after_s >= 1);
    CHECK(*a.calls == 1);
  }

  answer_counter late;
  forwarder.forward(some_command(), late.make());
  REQUIRE(late.answer.wait_for(1s) == std::future_status::ready);
  CHECK(*late.calls == 1);
  forwarder.stop();  // idempotent
}

TEST_CASE_METHOD(forwarder_fixture, "beyond the per-peer slots and queue a call is refused at once: 503 OVERLOADED") {
  config.calls_per_peer_max = 1;
  config.queued_per_peer_max = 1;
  cluster_forwarder forwarder{config, directory, cluster_auth_key("s"), &stats};
  answer_counter in_flight, queued, refused;
  forwarder.forward(some_command(), in_flight.make());
  forwarder.forward(some_command(), queued.make());
  forwarder.forward(some_command(), refused.make());
  REQUIRE(refused.answer.wait_for(2s) == std::future_status::ready);
  CHECK(refused.answer.get().code == error_code::overloaded);
  CHECK(stats.counted(forward_result::overloaded) == 1);
  CHECK(in_flight.answer.wait_for(0s) == std::future_status::timeout);
  forwarder.stop();
  CHECK(*in_flight.calls == 1);
  CHECK(*queued.calls == 1);
}
