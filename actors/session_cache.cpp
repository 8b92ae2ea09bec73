#include "actors/session_cache.hpp"

namespace tally {

session_entry* session_cache::find(const uuid& session) {
  auto found = entries_.find(session);
  if (found == entries_.end()) return nullptr;
  found->second.last_used = ++use_clock_;
  return &found->second;
}

session_entry& session_cache::add(const uuid& session, uint64_t committed_token) {
  // A linear scan: the bound is a handful of sessions per user.
  while (entries_.size() >= entries_max_) {
    auto oldest = entries_.end();
    for (auto i = entries_.begin(); i != entries_.end(); ++i) {
      const auto& entry = i->second;
      bool evictable = !entry.loading && entry.write_token <= committed_token;
      if (evictable && (oldest == entries_.end() || entry.last_used < oldest->second.last_used))
        oldest = i;
    }
    if (oldest == entries_.end()) break;  // everything is pending: over the bound for now
    entries_.erase(oldest);
  }
  auto& entry = entries_[session];
  entry = session_entry{};
  entry.last_used = ++use_clock_;
  return entry;
}

void session_cache::erase(const uuid& session) {
  entries_.erase(session);
}

std::vector<std::function<void(const failure*)>> session_cache::take_all_waiting() {
  std::vector<std::function<void(const failure*)>> all;
  for (auto& [id, entry] : entries_) {
    for (auto& waiting : entry.waiting) all.push_back(std::move(waiting));
    entry.waiting.clear();
  }
  return all;
}

} // namespace tally
