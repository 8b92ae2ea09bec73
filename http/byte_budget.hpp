#pragma once
// One bound on the bytes the front door holds for requests and responses in
// flight, over all connections together (issue 9: 2 000 slow 60 KiB bodies
// took RSS from 30 to 153 MB and it never came back).
//
// Each connection holds a budget_lease and resizes it to what it holds right
// now: its read buffer, the body it has been promised (a Content-Length is
// reserved up front by Beast), the response it is writing. Growing may be
// refused (the connection answers 503 OVERLOADED and closes); bytes that are
// already allocated (a response body) are taken without asking, so the
// total can pass the bound by the responses in flight, and every new read
// is refused until it is back under.
#include <atomic>
#include <cstddef>

namespace tally {

/// The shared counter. Thread-safe; never blocks.
class byte_budget {
public:
  explicit byte_budget(size_t bytes_max) : bytes_max_(bytes_max) {}

  byte_budget(const byte_budget&) = delete;
  byte_budget& operator=(const byte_budget&) = delete;

  /// Takes `bytes` if the total stays within the bound; false (nothing taken)
  /// otherwise.
  bool try_take(size_t bytes);
  /// Takes `bytes` whatever the total (memory that already exists).
  void take(size_t bytes);
  void give_back(size_t bytes);

  size_t held() const { return held_.load(std::memory_order_relaxed); }
  size_t bytes_max() const { return bytes_max_; }

private:
  const size_t bytes_max_;
  std::atomic<size_t> held_{0};
};

/// What one connection holds of a byte_budget; gives it all back when
/// destroyed. Used from one strand at a time.
class budget_lease {
public:
  explicit budget_lease(byte_budget& budget) : budget_(budget) {}
  ~budget_lease() { budget_.give_back(bytes_); }

  budget_lease(const budget_lease&) = delete;
  budget_lease& operator=(const budget_lease&) = delete;

  /// Holds exactly `bytes` from now on; growing is refused (false, the lease
  /// unchanged) when the budget cannot cover the difference.
  bool try_resize(size_t bytes);
  /// Holds exactly `bytes`, whatever the budget says.
  void resize(size_t bytes);

  size_t bytes() const { return bytes_; }

private:
  byte_budget& budget_;
  size_t bytes_ = 0;
};

} // namespace tally
