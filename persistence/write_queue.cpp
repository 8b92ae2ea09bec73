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
  std::vector<entity_write> taken;
  size_t taken_records = 0;
  int64_t received = 0;
  while (!empty()) {
    auto& write = writes_[head_];
    size_t records = write.records.record_count();
    if (taken_records > 0 && taken_records + records > batch_records_max_) break;
    taken_records += records;
    received += static_cast<int64_t>(records);
    taken.push_back(std::move(write));
    ++head_;
  }
  queued_records_ -= received;
  compact();
  return prepare_batch(std::move(taken));
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
