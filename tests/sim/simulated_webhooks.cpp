// SIMULATION DOUBLE: the payment-webhook tables of simulated_database, with
// the same guards as the real stores (migrations.cpp, version 3): a second
// payment row for one object fails the batch; event rows merge monotonically.
#include <algorithm>
#include <set>

#include "tests/sim/simulated_store.hpp"

namespace tally::sim {

namespace {

using lock = std::lock_guard<std::mutex>;

} // namespace

void simulated_database::check_webhooks_locked(const write_batch& batch) const {
  std::set<uuid> new_payments;
  for (const auto& row : batch.payments)
    if (payments_.count(row.id) > 0 || !new_payments.insert(row.id).second)
      throw store_error(store_fault::permanent, "simulated: duplicate payment object");
}

void simulated_database::apply_webhooks_locked(const write_batch& batch) {
  for (const auto& row : batch.payments) payments_[row.id] = row;
  for (const auto& row : batch.webhook_events) {
    auto [slot, inserted] = webhook_events_.emplace(row.id, row);
    if (inserted) continue;
    auto& stored = slot->second;
    if (stored.status != webhook_status::processed) stored.status = row.status;
    stored.deliveries = std::max(stored.deliveries, row.deliveries);
    stored.first_seen_at = std::min(stored.first_seen_at, row.first_seen_at);
    if (stored.processed_at == 0) stored.processed_at = row.processed_at;
  }
}

std::optional<webhook_event_row> simulated_database::find_webhook_event(const uuid& id) {
  lock guard(mutex_);
  check_reachable_locked();
  auto found = webhook_events_.find(id);
  if (found == webhook_events_.end()) return std::nullopt;
  return found->second;
}

std::optional<payment_row> simulated_database::find_payment(const uuid& id) {
  lock guard(mutex_);
  check_reachable_locked();
  auto found = payments_.find(id);
  if (found == payments_.end()) return std::nullopt;
  return found->second;
}

size_t simulated_database::delete_webhook_events_before(timestamp_us before) {
  lock guard(mutex_);
  check_reachable_locked();
  size_t deleted = 0;
  for (auto i = webhook_events_.begin(); i != webhook_events_.end();) {
    if (i->second.first_seen_at < before) {
      i = webhook_events_.erase(i);
      ++deleted;
    } else {
      ++i;
    }
  }
  return deleted;
}

std::map<uuid, webhook_event_row> simulated_database::webhook_events() const {
  lock guard(mutex_);
  return webhook_events_;
}

std::map<uuid, payment_row> simulated_database::payments() const {
  lock guard(mutex_);
  return payments_;
}

} // namespace tally::sim
