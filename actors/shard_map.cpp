#include "actors/shard_map.hpp"

#include <utility>

namespace tally {

namespace {

bool valid_shard(int shard) {
  return shard >= 0 && shard < shard_count;
}

} // namespace

shard_map::shard_map(std::string node_id, std::string internal_address, monotonic_now now)
  : node_id_(std::move(node_id)),
    internal_address_(std::move(internal_address)),
    now_(now),
    routes_(static_cast<size_t>(shard_count)) {
  for (auto& deadline : deadline_) deadline.store(0, std::memory_order_relaxed);
}

bool shard_map::serves(int shard) const {
  if (!valid_shard(shard)) return false;
  return ticks(now_()) < deadline_[static_cast<size_t>(shard)].load(std::memory_order_acquire);
}

shard_route shard_map::route(int shard) const {
  if (serves(shard)) return shard_route{shard_place::local, node_id_, internal_address_};
  if (!valid_shard(shard)) return {};
  std::lock_guard<std::mutex> lock(mutex_);
  auto found = routes_[static_cast<size_t>(shard)];
  // Our own lease but not served (handing over, deadline passed): nobody
  // serves it now.
  if (found.place == shard_place::remote && found.node_id == node_id_) return {};
  return found;
}

void shard_map::refresh_soon() {
  if (refresh_requested_.exchange(true)) return;  // one request in flight is enough
  std::function<void()> ask;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ask = ask_refresh_;
  }
  if (ask) ask();
}

std::string shard_map::node_id() const {
  return node_id_;
}

std::string shard_map::readiness_problem() const {
  auto deadline = member_deadline_.load(std::memory_order_acquire);
  if (deadline == 0) return "joining";
  if (ticks(now_()) >= deadline) return "leases_expired";
  return {};
}

std::vector<cluster_member> shard_map::members() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return members_;
}

void shard_map::serve_until(int shard, std::chrono::steady_clock::time_point deadline) {
  if (!valid_shard(shard) || closed_.load()) return;
  deadline_[static_cast<size_t>(shard)].store(ticks(deadline), std::memory_order_release);
  if (closed_.load()) stop_serving(shard);  // close() ran in between
}

void shard_map::close() {
  closed_.store(true);
  for (int shard = 0; shard < shard_count; ++shard) stop_serving(shard);
}

void shard_map::stop_serving(int shard) {
  if (valid_shard(shard)) deadline_[static_cast<size_t>(shard)].store(0, std::memory_order_release);
}

std::vector<int> shard_map::served() const {
  std::vector<int> shards;
  for (int shard = 0; shard < shard_count; ++shard)
    if (serves(shard)) shards.push_back(shard);
  return shards;
}

void shard_map::set_routes(std::vector<shard_route> routes) {
  routes.resize(static_cast<size_t>(shard_count));
  std::lock_guard<std::mutex> lock(mutex_);
  routes_ = std::move(routes);
}

void shard_map::set_members(std::vector<cluster_member> members) {
  std::lock_guard<std::mutex> lock(mutex_);
  members_ = std::move(members);
}

void shard_map::renewed_membership(std::chrono::steady_clock::time_point deadline) {
  member_deadline_.store(ticks(deadline), std::memory_order_release);
}

void shard_map::on_refresh_request(std::function<void()> ask) {
  std::lock_guard<std::mutex> lock(mutex_);
  ask_refresh_ = std::move(ask);
}

void shard_map::refresh_taken() {
  refresh_requested_.store(false);
}

} // namespace tally
