#pragma once
// For tests that run actors on real threads (the runtime, the two-node
// cluster test): a CAF config for them, and a reply whose outcome the test
// thread waits for on a future (never on sleeps).
#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <memory>

#include "caf/actor_system_config.hpp"

#include "protocols/caf_types.hpp"
#include "protocols/reply.hpp"

namespace tally::test {

/// Generous: only a broken runtime waits this long.
constexpr auto threaded_reply_wait_max = std::chrono::seconds(20);

struct threaded_system_config : caf::actor_system_config {
  threaded_system_config() {
    register_caf_types(*this);
    set("scheduler.max-threads", 2);
    set("logger.console", caf::atom("none"));
  }
};

template <class T>
struct waiter {
  std::shared_ptr<std::promise<outcome<T>>> promise = std::make_shared<std::promise<outcome<T>>>();
  std::future<outcome<T>> future = promise->get_future();
  reply<T> make() {
    auto p = promise;
    return reply<T>{[p](outcome<T> value) { p->set_value(std::move(value)); }};
  }
  outcome<T> get() {
    REQUIRE(future.wait_for(threaded_reply_wait_max) == std::future_status::ready);
    return future.get();
  }
};

} // namespace tally::test
