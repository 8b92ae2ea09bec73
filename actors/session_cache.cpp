#include "actors/session_cache.hpp"

namespace tally {

namespace {

constexpr char hex_digits[] = "0123456789abcdef";

/// The value of a lower-case hex digit, or -1.
int nibble_of(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

template <class Packed>
bool pack_hex(const std::string& text, Packed& out, uint8_t& chars) {
  if (text.size() > out.size() * 2) return false;
  out.fill(0);
  for (size_t i = 0; i < text.size(); ++i) {
    int value = nibble_of(text[i]);
    if (value < 0) return false;
    out[i / 2] |= static_cast<uint8_t>(i % 2 == 0 ? value << 4 : value);
  }
  chars = static_cast<uint8_t>(text.size());
  return true;
}

template <class Packed>
std::string unpack_hex(const Packed& packed, uint8_t chars) {
  std::string text(chars, '0');
  for (size_t i = 0; i < chars; ++i) {
    uint8_t byte = packed[i / 2];
    text[i] = hex_digits[i % 2 == 0 ? byte >> 4 : byte & 0x0f];
  }
  return text;
}

} // namespace

// -- compact_session_row -----------------------------------------------------------

void compact_session_row::assign(const session_row& row) {
  id_ = row.id;
  user_id_ = row.user_id;
  rotated_at_ = row.rotated_at;
  created_at_ = row.created_at;
  expires_at_ = row.expires_at;
  revoked_at_ = row.revoked_at;
  bool packed = pack_hex(row.refresh_hash, refresh_hash_, refresh_hash_chars_)
                && pack_hex(row.previous_refresh_hash, previous_refresh_hash_,
                            previous_refresh_hash_chars_);
  if (packed)
    unpacked_.reset();
  else
    unpacked_ = std::make_unique<std::pair<std::string, std::string>>(row.refresh_hash,
                                                                      row.previous_refresh_hash);
}

void compact_session_row::reset(const uuid& id) {
  *this = compact_session_row{};
  id_ = id;
}

session_row compact_session_row::without_hashes() const {
  session_row row;
  row.id = id_;
  row.user_id = user_id_;
  row.rotated_at = rotated_at_;
  row.created_at = created_at_;
  row.expires_at = expires_at_;
  row.revoked_at = revoked_at_;
  return row;
}

session_row compact_session_row::row() const {
  auto row = without_hashes();
  if (unpacked_) {
    row.refresh_hash = unpacked_->first;
    row.previous_refresh_hash = unpacked_->second;
  } else {
    row.refresh_hash = unpack_hex(refresh_hash_, refresh_hash_chars_);
    row.previous_refresh_hash = unpack_hex(previous_refresh_hash_, previous_refresh_hash_chars_);
  }
  return row;
}

// -- session_entry -------------------------------------------------------------------

void session_entry::wait(std::function<void(const failure*)> command) {
  if (!waiting) waiting = std::make_unique<waiting_list>();
  waiting->push_back(std::move(command));
}

session_entry::waiting_list session_entry::take_waiting() {
  if (!waiting) return {};
  auto taken = std::move(*waiting);
  waiting.reset();
  return taken;
}

// -- session_cache -------------------------------------------------------------------

session_entry* session_cache::find(const uuid& session) {
  for (auto& entry : entries_) {
    if (entry.row.id() == session) {
      entry.last_used = ++use_clock_;
      return &entry;
    }
  }
  return nullptr;
}

session_entry& session_cache::add(const uuid& session, uint64_t committed_token) {
  // A linear scan: the bound is a handful of sessions per user.
  while (entries_.size() >= entries_max_) {
    size_t oldest = entries_.size();
    for (size_t i = 0; i < entries_.size(); ++i) {
      const auto& entry = entries_[i];
      bool evictable = !entry.loading && entry.write_token <= committed_token;
      if (evictable && (oldest == entries_.size() || entry.last_used < entries_[oldest].last_used))
        oldest = i;
    }
    if (oldest == entries_.size()) break;  // everything is pending: over the bound for now
    remove_at(oldest);
  }
  session_entry* slot = nullptr;
  for (auto& entry : entries_)
    if (entry.row.id() == session) slot = &entry;
  if (slot == nullptr) slot = &entries_.emplace_back();
  *slot = session_entry{};
  slot->row.reset(session);
  slot->last_used = ++use_clock_;
  return *slot;
}

void session_cache::erase(const uuid& session) {
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].row.id() == session) {
      remove_at(i);
      return;
    }
  }
}

void session_cache::remove_at(size_t index) {
  if (index + 1 != entries_.size()) entries_[index] = std::move(entries_.back());
  entries_.pop_back();
}

session_entry::waiting_list session_cache::take_all_waiting() {
  session_entry::waiting_list all;
  for (auto& entry : entries_)
    for (auto& waiting : entry.take_waiting()) all.push_back(std::move(waiting));
  return all;
}

void session_cache::clear() {
  std::vector<session_entry>().swap(entries_);
}

} // namespace tally
