// The simulated database's generations table (simulated_store.hpp): the
// same contract as the real stores' (persistence/store.hpp), in memory.
#include <algorithm>
#include <set>
#include <tuple>

#include "tests/sim/simulated_store.hpp"

namespace tally::sim {

namespace {

using lock = std::lock_guard<std::mutex>;

[[noreturn]] void refuse(const std::string& why) {
  throw store_error(store_fault::permanent, "simulated: " + why);
}

/// Newest first: (created_at, id) descending, like the real stores.
bool newer(const generation_row& a, const generation_row& b) {
  return std::tie(a.created_at, a.id) > std::tie(b.created_at, b.id);
}

} // namespace

void simulated_database::check_generations_locked(const write_batch& batch) const {
  std::set<std::pair<uuid, std::string>> keys;
  for (const auto& row : batch.generations) {
    if (!user_exists_locked(row.user_id, &batch)) refuse("generation of an unknown user");
    if (row.price <= 0) refuse("CHECK price > 0 violated");
    if (row.idempotency_key.empty()) continue;
    // The partial unique index (user_id, idempotency_key).
    for (const auto& [id, stored] : generations_)
      if (id != row.id && stored.user_id == row.user_id && stored.idempotency_key == row.idempotency_key)
        refuse("duplicate generation idempotency key");
    if (!keys.emplace(row.user_id, row.idempotency_key).second) {
      bool same_generation = std::count_if(batch.generations.begin(), batch.generations.end(), [&](const auto& other) {
                               return other.id == row.id;
                             }) > 1;
      if (!same_generation) refuse("duplicate generation idempotency key in one batch");
    }
  }
}

void simulated_database::apply_generations_locked(const write_batch& batch) {
  for (const auto& row : batch.generations) {
    auto found = generations_.find(row.id);
    if (found == generations_.end()) {
      generations_.emplace(row.id, row);
      continue;
    }
    // ON CONFLICT (id) DO UPDATE: only the changing columns.
    auto& stored = found->second;
    stored.status = row.status;
    stored.result_url = row.result_url;
    stored.error = row.error;
    stored.updated_at = row.updated_at;
  }
}

std::vector<generation_row> simulated_database::find_active_generations(const std::vector<uuid>& users) {
  lock guard(mutex_);
  check_reachable_locked();
  check_read_locked(users);
  std::vector<generation_row> found;
  for (const auto& [id, row] : generations_)
    if (is_active(row.status) && std::find(users.begin(), users.end(), row.user_id) != users.end())
      found.push_back(row);
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return newer(b, a); });
  return found;
}

std::optional<generation_row> simulated_database::find_generation(const uuid& user, const uuid& generation) {
  lock guard(mutex_);
  check_reachable_locked();
  auto found = generations_.find(generation);
  if (found == generations_.end() || found->second.user_id != user) return std::nullopt;
  return found->second;
}

generation_page simulated_database::read_generations(const uuid& user, const generation_query& query) {
  lock guard(mutex_);
  check_reachable_locked();
  std::vector<generation_row> rows;
  for (const auto& [id, row] : generations_) {
    if (row.user_id != user) continue;
    if (query.status && row.status != *query.status) continue;
    if (query.active_only && !is_active(row.status)) continue;
    if (query.before_created_at &&
        std::tie(row.created_at, row.id) >= std::tie(*query.before_created_at, query.before_id))
      continue;
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end(), newer);
  generation_page page;
  for (const auto& row : rows) {
    if (page.generations.size() == static_cast<size_t>(query.limit)) {
      page.next_created_at = page.generations.back().created_at;
      page.next_id = page.generations.back().id;
      break;
    }
    page.generations.push_back(row);
  }
  return page;
}

std::vector<uuid> simulated_database::users_with_generations_due(timestamp_us due, size_t max) {
  lock guard(mutex_);
  check_reachable_locked();
  std::set<uuid> users;
  for (const auto& [id, row] : generations_)
    if (is_active(row.status) && row.timeout_at <= due && users.size() < max) users.insert(row.user_id);
  return {users.begin(), users.end()};
}

std::map<uuid, generation_row> simulated_database::generations() const {
  lock guard(mutex_);
  return generations_;
}

} // namespace tally::sim
