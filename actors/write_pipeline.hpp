#pragma once
// The write half of the entity lifecycle, shared by every kind: an entity
// hands each accepted command's records to the writer with the next token
// and keeps what it owes (its `Pending`: a reply to send, a callback) until
// the writer reports the commit of that token; a failed write takes
// everything owed at once (the entity then retires and reloads, lifecycle.hpp).
//
//   submit(records, pending) --write(token)--> writer
//   committed(token) <-- writer: take_committed(token) -> owed, oldest first
//   write_failed     <-- writer: take_all() -> owed (fail each), retire
//
// Bounded: refuse() says 503 OVERLOADED before the window of uncommitted
// writes or the writer's backlog overflows. The invariants are checked on
// every write and report: epochs never go back, tokens commit in order, and
// only tokens handed out commit.
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "actors/entity_context.hpp"
#include "protocols/caf_types.hpp"
#include "protocols/invariant.hpp"

namespace tally {

/// `Pending` is what the entity owes for one write; it has a `uint64_t token`.
template <class Pending>
class write_pipeline {
public:
  /// 503 OVERLOADED (retry after `retry_after_s`) when a new write must not
  /// be accepted: the writer's backlog or this entity's window is full.
  /// `kind` names the entity in the detail ("user", "identity").
  std::optional<failure> refuse(const entity_context& context, const char* kind,
                                int retry_after_s) const {
    if (context.health->backlog_full())
      return failure{error_code::overloaded, "the write-behind backlog is full", retry_after_s};
    // The window bounds replies waiting for a commit (CAF-0.17.md §4).
    if (pending_.size() >= context.pending_replies_max)
      return failure{error_code::overloaded,
                     std::string("too many uncommitted requests for this ") + kind, retry_after_s};
    return std::nullopt;
  }

  /// Hands `records` (fenced by `epoch`) to the writer under the next token
  /// and keeps `pending` until that token commits or fails.
  template <class Self>
  void submit(Self self, const uuid& entity, int64_t epoch, write_batch records, Pending pending) {
    const auto& context = *self->state.context;
    // Fencing depends on it: a write under an older epoch than one already
    // sent would be refused by the store after a newer one committed.
    TALLY_INVARIANT(epoch >= last_epoch_, "owner epochs never go back", to_string(entity));
    last_epoch_ = epoch;
    entity_write write;
    write.entity = entity;
    write.epoch = epoch;
    write.token = ++last_token_;
    write.listener = caf::actor_cast<write_listener>(self);
    write.records = std::move(records);
    pending.token = write.token;
    context.health->backlog_records.fetch_add(static_cast<int64_t>(write.records.record_count()),
                                              std::memory_order_relaxed);
    self->send(context.writer, write_atom_v, std::move(write));
    pending_.push_back(std::move(pending));
  }

  /// The writer committed every write up to `token`: what was owed for
  /// them, oldest first, taken out (a delivery may submit a new write).
  std::vector<Pending> take_committed(uint64_t token, const uuid& entity) {
    // The writer commits an entity's writes in order, each report past the last.
    TALLY_INVARIANT(token > committed_token_, "commit tokens increase", to_string(entity));
    TALLY_INVARIANT(token <= last_token_, "only submitted writes commit", to_string(entity));
    committed_token_ = token;
    size_t count = 0;
    while (count < pending_.size() && pending_[count].token <= token) ++count;
    auto end = pending_.begin() + static_cast<std::ptrdiff_t>(count);
    std::vector<Pending> done(std::make_move_iterator(pending_.begin()),
                              std::make_move_iterator(end));
    pending_.erase(pending_.begin(), end);
    return done;
  }

  /// A write failed for good: everything owed, taken out.
  std::vector<Pending> take_all() {
    auto owed = std::move(pending_);
    pending_.clear();
    return owed;
  }

  bool empty() const { return pending_.empty(); }
  size_t size() const { return pending_.size(); }
  /// The newest token handed out (0 = none).
  uint64_t last_token() const { return last_token_; }
  /// Every write up to this token is committed.
  uint64_t committed_token() const { return committed_token_; }

private:
  /// Oldest first; tokens increase.
  std::vector<Pending> pending_;
  uint64_t last_token_ = 0;
  uint64_t committed_token_ = 0;
  /// The epoch of the newest write handed out.
  int64_t last_epoch_ = 0;
};

} // namespace tally
