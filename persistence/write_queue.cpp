#include "persistence/write_queue.hpp"

#include <algorithm>
#include <string>
#include <unordered_map>

namespace tally {
namespace {

/// Moves `rows` onto `out`, keeping one row per key: a later row replaces
/// the earlier one in place (the last one wins, at the position of the
/// first), so the order of the other rows is unchanged. `at` maps each key
/// to its row's index in `out`, across all the writes of one batch.
template <class Row, class Map, class KeyOf>
void append_coalesced(std::vector<Row>& out, std::vector<Row>& rows, Map& at, KeyOf key_of) {
  for (auto& row : rows) {
    auto [slot, inserted] = at.try_emplace(key_of(row), out.size());
    if (inserted)
      out.push_back(std::move(row));
    else
      out[slot->second] = std::move(row);
  }
}

template <class Row>
void append_all(std::vector<Row>& out, std::vector<Row>& rows) {
  for (auto& row : rows) out.push_back(std::move(row));
}

} // namespace

bool write_queue::push(entity_write&& write) {
  auto fenced = fenced_epochs_.find(write.entity);
  if (fenced != fenced_epochs_.end()) {
    if (write.epoch <= fenced->second) return false;
    // A newer activation: the old epoch can no longer arrive (its writes
    // were all sent before the entity was re-activated).
    fenced_epochs_.erase(fenced);
  }
  queued_records_ += static_cast<int64_t>(write.records.record_count());
  writes_.push_back(std::move(write));
  return true;
}

prepared_batch write_queue::take_batch() {
  prepared_batch out;
  // Where each coalesced row sits in out.batch (one per key), and each
  // entity's member entry (one per (entity, epoch)). Postgres refuses an
  // upsert that touches one key twice in a statement, and a conditional
  // UPDATE .. FROM applies only one of two rows for a key.
  std::unordered_map<uuid, size_t, uuid_hash> balance_at;
  std::unordered_map<uuid, size_t, uuid_hash> identity_at;
  std::unordered_map<std::string, size_t> magic_link_at;
  std::unordered_map<uuid, size_t, uuid_hash> login_code_at;
  std::unordered_map<uuid, size_t, uuid_hash> session_at;
  std::unordered_map<uuid, size_t, uuid_hash> member_at;
  size_t taken_records = 0;
  while (!empty()) {
    auto& write = writes_[head_];
    size_t records = write.records.record_count();
    if (taken_records > 0 && taken_records + records > batch_records_max_) break;
    taken_records += records;
    out.records_received += static_cast<int64_t>(records);
    auto& rows = write.records;
    auto& batch = out.batch;
    append_coalesced(batch.balances, rows.balances, balance_at, [](const auto& r) { return r.user_id; });
    append_all(batch.ledger, rows.ledger);
    append_all(batch.idempotency, rows.idempotency);
    append_all(batch.new_users, rows.new_users);
    append_coalesced(batch.identities, rows.identities, identity_at, [](const auto& r) { return r.id; });
    append_coalesced(batch.magic_links, rows.magic_links, magic_link_at,
                     [](const auto& r) { return r.token_hash; });
    append_coalesced(batch.login_codes, rows.login_codes, login_code_at,
                     [](const auto& r) { return r.identity_id; });
    append_coalesced(batch.sessions, rows.sessions, session_at, [](const auto& r) { return r.id; });
    append_all(batch.refresh_tokens, rows.refresh_tokens);
    append_all(batch.outbox, rows.outbox);
    append_all(batch.audit, rows.audit);
    auto [member, inserted] = member_at.try_emplace(write.entity, out.members.size());
    if (inserted || out.members[member->second].epoch != write.epoch) {
      member->second = out.members.size();
      out.members.push_back(batch_member{write.entity, write.epoch, write.listener, write.token});
    } else {
      out.members[member->second].max_token = write.token;
    }
    ++head_;
  }
  queued_records_ -= out.records_received;
  compact();
  return out;
}

std::vector<entity_write> write_queue::fence(const batch_member& member) {
  if (fenced_epochs_.size() >= fenced_entities_max) fenced_epochs_.clear();
  auto& epoch = fenced_epochs_[member.entity];
  epoch = std::max(epoch, member.epoch);
  std::vector<entity_write> dropped;
  std::vector<entity_write> kept;
  for (size_t i = head_; i < writes_.size(); ++i) {
    auto& write = writes_[i];
    if (write.entity == member.entity && write.epoch <= epoch) {
      queued_records_ -= static_cast<int64_t>(write.records.record_count());
      dropped.push_back(std::move(write));
    } else {
      kept.push_back(std::move(write));
    }
  }
  writes_ = std::move(kept);
  head_ = 0;
  return dropped;
}

void write_queue::compact() {
  if (head_ == writes_.size()) {
    writes_.clear();
    head_ = 0;
  } else if (head_ * 2 >= writes_.size()) {
    writes_.erase(writes_.begin(), writes_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

} // namespace tally
