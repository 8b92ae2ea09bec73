// SIMULATION DOUBLE: see simulated_store.hpp.
#include "tests/sim/simulated_store.hpp"

#include <algorithm>

namespace tally::sim {

namespace {

using lock = std::lock_guard<std::mutex>;

[[noreturn]] void fail(store_fault fault, const std::string& why) {
  throw store_error(fault, "simulated: " + why);
}

} // namespace

void simulated_database::add_user(const uuid& id, balance initial) {
  lock guard(mutex_);
  auto& user = users_[id];
  user.row.id = id;
  user.bal = initial;
}

void simulated_database::fail_next_commits(size_t count, store_fault fault) {
  lock guard(mutex_);
  fail_next_ = count;
  fail_next_fault_ = fault;
}

void simulated_database::set_reachable(bool reachable) {
  lock guard(mutex_);
  reachable_ = reachable;
}

void simulated_database::fail_commits_touching(const uuid& user, store_fault fault) {
  lock guard(mutex_);
  failing_users_[user] = fault;
}

void simulated_database::clear_commit_failures() {
  lock guard(mutex_);
  failing_users_.clear();
  fail_next_ = 0;
}

void simulated_database::bump_epoch(const uuid& user) {
  lock guard(mutex_);
  ++users_.at(user).owner_epoch;
}

void simulated_database::set_sabotage(sabotage kind) {
  lock guard(mutex_);
  sabotage_ = kind;
}

void simulated_database::observe_commits(commit_observer observer) {
  lock guard(mutex_);
  observer_ = std::move(observer);
}

std::optional<balance> simulated_database::committed_balance(const uuid& user) const {
  lock guard(mutex_);
  auto found = users_.find(user);
  if (found == users_.end()) return std::nullopt;
  return found->second.bal;
}

int64_t simulated_database::owner_epoch(const uuid& user) const {
  lock guard(mutex_);
  return users_.at(user).owner_epoch;
}

int64_t simulated_database::ledger_seq(const uuid& user) const {
  lock guard(mutex_);
  return users_.at(user).ledger_seq;
}

std::vector<ledger_entry> simulated_database::ledger(const uuid& user) const {
  lock guard(mutex_);
  std::vector<ledger_entry> out;
  for (const auto& [seq, entry] : users_.at(user).ledger) out.push_back(entry);
  return out;
}

std::optional<idempotency_record> simulated_database::idempotency(const uuid& user,
                                                                  const std::string& key) const {
  lock guard(mutex_);
  const auto& keys = users_.at(user).keys;
  auto found = keys.find(key);
  if (found == keys.end()) return std::nullopt;
  return found->second;
}

size_t simulated_database::idempotency_count() const {
  lock guard(mutex_);
  size_t count = 0;
  for (const auto& [id, user] : users_) count += user.keys.size();
  return count;
}

size_t simulated_database::commits() const {
  lock guard(mutex_);
  return commits_;
}

size_t simulated_database::commit_calls() const {
  lock guard(mutex_);
  return commit_calls_;
}

size_t simulated_database::balance_writes() const {
  lock guard(mutex_);
  return balance_writes_;
}

size_t simulated_database::ledger_rows() const {
  lock guard(mutex_);
  return ledger_rows_;
}

std::vector<size_t> simulated_database::batch_sizes() const {
  lock guard(mutex_);
  return batch_sizes_;
}

size_t simulated_database::activations() const {
  lock guard(mutex_);
  return activations_;
}

size_t simulated_database::sweeps() const {
  lock guard(mutex_);
  return sweeps_;
}

void simulated_database::check_reachable_locked() const {
  if (!reachable_) fail(store_fault::transient, "store unreachable");
}

void simulated_database::check_reachable() const {
  lock guard(mutex_);
  check_reachable_locked();
}

void simulated_database::ping() const {
  check_reachable();
}

void simulated_database::create_user(const user_row& row) {
  lock guard(mutex_);
  check_reachable_locked();
  for (const auto& [id, user] : users_) {
    bool same_email = !row.email.empty() && user.row.email == row.email;
    bool same_phone = !row.phone.empty() && user.row.phone == row.phone;
    if (id == row.id || same_email || same_phone) fail(store_fault::permanent, "user exists");
  }
  users_[row.id].row = row;
}

std::optional<user_snapshot> simulated_database::activate_user(const uuid& id, size_t recent_max,
                                                               timestamp_us since) {
  lock guard(mutex_);
  check_reachable_locked();
  auto found = users_.find(id);
  if (found == users_.end()) return std::nullopt;
  ++activations_;
  auto& user = found->second;
  ++user.owner_epoch;
  user_snapshot snapshot;
  snapshot.user = user.row;
  snapshot.bal = user.bal;
  snapshot.ledger_seq = user.ledger_seq;
  snapshot.owner_epoch = user.owner_epoch;
  struct fresh_key {
    const idempotency_record* record;
    uint64_t inserted;
  };
  std::vector<fresh_key> fresh;
  for (const auto& [key, record] : user.keys)
    if (record.created_at >= since) fresh.push_back({&record, user.key_inserted.at(key)});
  std::sort(fresh.begin(), fresh.end(), [](const fresh_key& a, const fresh_key& b) {
    if (a.record->created_at != b.record->created_at)
      return a.record->created_at > b.record->created_at;
    return a.inserted > b.inserted;
  });
  for (size_t i = 0; i < fresh.size() && i < recent_max; ++i)
    snapshot.recent_idempotency.push_back(*fresh[i].record);
  snapshot.older_idempotency_in_store = fresh.size() > recent_max;
  return snapshot;
}

ledger_page simulated_database::read_ledger(const uuid& id, const ledger_query& query) const {
  lock guard(mutex_);
  check_reachable_locked();
  ledger_page page;
  auto found = users_.find(id);
  if (found == users_.end()) return page;
  const auto& entries = found->second.ledger;
  for (auto i = entries.rbegin(); i != entries.rend(); ++i) {
    const auto& entry = i->second;
    if (query.before_seq && entry.seq >= *query.before_seq) continue;
    if (query.type && entry.type != *query.type) continue;
    if (static_cast<int>(page.entries.size()) == query.limit) {
      page.next_before_seq = page.entries.back().seq;
      break;
    }
    page.entries.push_back(entry);
  }
  return page;
}

std::optional<idempotency_record> simulated_database::find_idempotency(const uuid& id,
                                                                       const std::string& key,
                                                                       timestamp_us since) const {
  lock guard(mutex_);
  check_reachable_locked();
  auto found = users_.find(id);
  if (found == users_.end()) return std::nullopt;
  auto record = found->second.keys.find(key);
  if (record == found->second.keys.end() || record->second.created_at < since) return std::nullopt;
  return record->second;
}

void simulated_database::commit(const write_batch& batch) {
  lock guard(mutex_);
  ++commit_calls_;
  check_reachable_locked();
  if (fail_next_ > 0) {
    --fail_next_;
    fail(fail_next_fault_, "injected commit failure");
  }
  auto touches = [&](const uuid& id) { return failing_users_.count(id) > 0; };
  for (const auto& write : batch.balances)
    if (touches(write.user_id)) fail(failing_users_.at(write.user_id), "injected user failure");
  // Validate everything first: a batch applies completely or not at all.
  for (const auto& write : batch.balances) {
    auto found = users_.find(write.user_id);
    if (found == users_.end()) fail(store_fault::permanent, "no such user");
    if (found->second.owner_epoch != write.owner_epoch) fail(store_fault::fenced, "owner epoch moved");
    if (write.bal.available < 0 || write.bal.reserved < 0)
      fail(store_fault::permanent, "CHECK available >= 0 violated");
  }
  std::set<uuid> new_ids;
  std::set<std::pair<uuid, int64_t>> new_seqs;
  for (const auto& row : batch.ledger) {
    auto found = users_.find(row.user_id);
    if (found == users_.end()) fail(store_fault::permanent, "ledger row of unknown user");
    if (found->second.ledger.count(row.entry.seq) || !new_seqs.emplace(row.user_id, row.entry.seq).second)
      fail(store_fault::permanent, "duplicate ledger seq");
    if (ledger_ids_.count(row.entry.id) || !new_ids.insert(row.entry.id).second)
      fail(store_fault::permanent, "duplicate ledger id");
    if (row.entry.amount <= 0) fail(store_fault::permanent, "CHECK amount > 0 violated");
  }
  std::set<std::pair<uuid, std::string>> new_keys;
  for (const auto& record : batch.idempotency) {
    auto found = users_.find(record.user_id);
    if (found == users_.end()) fail(store_fault::permanent, "key of unknown user");
    if (found->second.keys.count(record.key) || !new_keys.emplace(record.user_id, record.key).second)
      fail(store_fault::permanent, "duplicate idempotency key");
  }
  if (sabotage_ == sabotage::forget_commits) {
    ++commits_;
    return;  // the lie: success reported, nothing stored
  }
  for (const auto& write : batch.balances) {
    auto& user = users_.at(write.user_id);
    user.bal = write.bal;
    user.ledger_seq = write.ledger_seq;
  }
  for (const auto& row : batch.ledger) {
    users_.at(row.user_id).ledger.emplace(row.entry.seq, row.entry);
    ledger_ids_.insert(row.entry.id);
  }
  for (const auto& record : batch.idempotency) {
    auto& user = users_.at(record.user_id);
    user.keys.emplace(record.key, record);
    user.key_inserted[record.key] = ++keys_inserted_;
  }
  ++commits_;
  balance_writes_ += batch.balances.size();
  ledger_rows_ += batch.ledger.size();
  batch_sizes_.push_back(batch.record_count());
  if (observer_) observer_(batch);
}

size_t simulated_database::delete_idempotency_before(timestamp_us before) {
  lock guard(mutex_);
  check_reachable_locked();
  ++sweeps_;
  size_t deleted = 0;
  for (auto& [id, user] : users_) {
    for (auto i = user.keys.begin(); i != user.keys.end();) {
      if (i->second.created_at < before) {
        user.key_inserted.erase(i->first);
        i = user.keys.erase(i);
        ++deleted;
      } else {
        ++i;
      }
    }
  }
  return deleted;
}

std::function<std::unique_ptr<store>()> simulated_store_factory(std::shared_ptr<simulated_database> db) {
  return [db] {
    db->check_reachable();
    return std::unique_ptr<store>(std::make_unique<simulated_store>(db));
  };
}

} // namespace tally::sim
