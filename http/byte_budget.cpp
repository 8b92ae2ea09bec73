#include "http/byte_budget.hpp"

#include "protocols/invariant.hpp"

namespace tally {

bool byte_budget::try_take(size_t bytes) {
  auto held = held_.load(std::memory_order_relaxed);
  do {
    if (bytes > bytes_max_ || held > bytes_max_ - bytes) return false;
  } while (!held_.compare_exchange_weak(held, held + bytes, std::memory_order_relaxed));
  return true;
}

void byte_budget::take(size_t bytes) {
  held_.fetch_add(bytes, std::memory_order_relaxed);
}

void byte_budget::give_back(size_t bytes) {
  auto before = held_.fetch_sub(bytes, std::memory_order_relaxed);
  TALLY_INVARIANT(before >= bytes, "a lease gave back more than it took", "http buffers");
}

bool budget_lease::try_resize(size_t bytes) {
  if (bytes <= bytes_) {
    resize(bytes);
    return true;
  }
  if (!budget_.try_take(bytes - bytes_)) return false;
  bytes_ = bytes;
  return true;
}

void budget_lease::resize(size_t bytes) {
  if (bytes > bytes_) budget_.take(bytes - bytes_);
  else budget_.give_back(bytes_ - bytes);
  bytes_ = bytes;
}

} // namespace tally
