#pragma once
// reply<T>: a completion callback that is always called exactly once.
//
// Replies travel inside CAF messages (copied, queued, possibly dropped when an
// actor dies). If every copy is destroyed without the reply being delivered,
// the callback receives `fallback` instead, so an HTTP request never hangs on
// a lost message. Thread-safe: deliver from any thread; the callback must
// hop to its own executor itself.
#include <atomic>
#include <functional>
#include <memory>
#include <utility>

#include "protocols/outcome.hpp"

namespace tally {

template <class T>
class reply {
public:
  using callback = std::function<void(outcome<T>)>;

  reply() = default;
  explicit reply(callback fn, failure fallback = {error_code::internal, "request was dropped", 0})
    : state_(std::make_shared<state>(std::move(fn), std::move(fallback))) {}

  /// Delivers the outcome; later calls (from any copy) are ignored.
  void operator()(outcome<T> result) const {
    if (state_ && !state_->delivered.exchange(true)) state_->fn(std::move(result));
  }

  bool valid() const { return static_cast<bool>(state_); }

private:
  struct state {
    state(callback f, failure fb) : fn(std::move(f)), fallback(std::move(fb)) {}
    ~state() {
      if (!delivered.exchange(true) && fn) fn(outcome<T>{fallback});
    }
    callback fn;
    failure fallback;
    std::atomic<bool> delivered{false};
  };
  std::shared_ptr<state> state_;
};

} // namespace tally
