#include "persistence/write_queue.hpp"

#include <algorithm>

namespace tally {

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
  // Index of each entity's balance write in out.batch.balances, and of its
  // member entry: one of each per (entity) / (entity, epoch).
  std::unordered_map<uuid, size_t, uuid_hash> balance_at;
  std::unordered_map<uuid, size_t, uuid_hash> member_at;
  size_t taken_records = 0;
  while (!empty()) {
    auto& write = writes_[head_];
    size_t records = write.records.record_count();
    if (taken_records > 0 && taken_records + records > batch_records_max_) break;
    taken_records += records;
    out.records_received += static_cast<int64_t>(records);
    for (auto& balance : write.records.balances) {
      auto [slot, inserted] = balance_at.try_emplace(balance.user_id, out.batch.balances.size());
      if (inserted)
        out.batch.balances.push_back(std::move(balance));
      else
        out.batch.balances[slot->second] = std::move(balance);  // the last one wins
    }
    for (auto& entry : write.records.ledger) out.batch.ledger.push_back(std::move(entry));
    for (auto& record : write.records.idempotency)
      out.batch.idempotency.push_back(std::move(record));
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
