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

void simulated_database::add_user(const user_row& row, balance initial) {
  lock guard(mutex_);
  auto& user = users_[row.id];
  user.row = row;
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

void simulated_database::fail_next_reads(size_t count, store_fault fault) {
  lock guard(mutex_);
  fail_next_reads_ = count;
  fail_next_reads_fault_ = fault;
}

void simulated_database::fail_reads_touching(const uuid& user, store_fault fault) {
  lock guard(mutex_);
  failing_read_users_[user] = fault;
}

void simulated_database::clear_read_failures() {
  lock guard(mutex_);
  fail_next_reads_ = 0;
  failing_read_users_.clear();
}

size_t simulated_database::activation_calls() const {
  lock guard(mutex_);
  return activation_calls_;
}

size_t simulated_database::lookup_calls() const {
  lock guard(mutex_);
  return lookup_calls_;
}

size_t simulated_database::lookup_probes() const {
  lock guard(mutex_);
  return lookup_probes_;
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
  ++activation_calls_;
  check_read_locked({id});
  return activate_locked({id, recent_max, since});
}

std::vector<std::optional<user_snapshot>> simulated_database::activate_users(
  const std::vector<activation_request>& requests) {
  lock guard(mutex_);
  check_reachable_locked();
  ++activation_calls_;
  std::vector<uuid> ids;
  for (const auto& request : requests) ids.push_back(request.user);
  check_read_locked(ids);  // before any bump: all or nothing
  std::vector<std::optional<user_snapshot>> loaded;
  for (const auto& request : requests) loaded.push_back(activate_locked(request));
  return loaded;
}

std::optional<user_snapshot> simulated_database::activate_locked(const activation_request& request) {
  const auto& id = request.user;
  auto recent_max = request.recent_idempotency_max;
  auto since = request.idempotency_since;
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
                                                                       timestamp_us since) {
  lock guard(mutex_);
  check_reachable_locked();
  ++lookup_calls_;
  ++lookup_probes_;
  check_read_locked({id});
  return find_locked({id, key, since});
}

std::vector<std::optional<idempotency_record>> simulated_database::find_idempotency_many(
  const std::vector<idempotency_probe>& probes) {
  lock guard(mutex_);
  check_reachable_locked();
  ++lookup_calls_;
  lookup_probes_ += probes.size();
  std::vector<uuid> ids;
  for (const auto& probe : probes) ids.push_back(probe.user);
  check_read_locked(ids);
  std::vector<std::optional<idempotency_record>> found;
  for (const auto& probe : probes) found.push_back(find_locked(probe));
  return found;
}

std::optional<idempotency_record> simulated_database::find_locked(const idempotency_probe& probe) const {
  auto found = users_.find(probe.user);
  if (found == users_.end()) return std::nullopt;
  auto record = found->second.keys.find(probe.key);
  if (record == found->second.keys.end() || record->second.created_at < probe.since) return std::nullopt;
  return record->second;
}

void simulated_database::check_read_locked(const std::vector<uuid>& users) {
  if (fail_next_reads_ > 0) {
    --fail_next_reads_;
    fail(fail_next_reads_fault_, "injected read failure");
  }
  for (const auto& id : users)
    if (auto failing = failing_read_users_.find(id); failing != failing_read_users_.end())
      fail(failing->second, "injected read failure of a user");
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
  check_auth_locked(batch);
  check_generations_locked(batch);
  auto tenants_after = tenants_.after(batch);
  check_webhooks_locked(batch);
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
  apply_auth_locked(batch);
  apply_generations_locked(batch);
  tenants_ = std::move(tenants_after);
  apply_webhooks_locked(batch);
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

// -- auth ------------------------------------------------------------------------------

namespace {

/// Rows that can no longer matter are kept this long after (store.hpp).
constexpr timestamp_us auth_retention_us = 24LL * 3600 * 1'000'000;

} // namespace

bool simulated_database::user_exists_locked(const uuid& id, const write_batch* batch) const {
  if (users_.count(id) > 0) return true;
  if (batch != nullptr)
    for (const auto& user : batch->new_users)
      if (user.id == id) return true;
  return false;
}

void simulated_database::check_auth_locked(const write_batch& batch) const {
  std::set<uuid> new_ids;
  std::set<std::string> new_emails;
  std::set<std::string> new_phones;
  for (const auto& row : batch.new_users) {
    if (users_.count(row.id) > 0 || !new_ids.insert(row.id).second)
      fail(store_fault::permanent, "duplicate user id");
    for (const auto& [id, user] : users_) {
      if (!row.email.empty() && user.row.email == row.email)
        fail(store_fault::permanent, "duplicate user email");
      if (!row.phone.empty() && user.row.phone == row.phone)
        fail(store_fault::permanent, "duplicate user phone");
    }
    if ((!row.email.empty() && !new_emails.insert(row.email).second)
        || (!row.phone.empty() && !new_phones.insert(row.phone).second))
      fail(store_fault::permanent, "duplicate user email/phone in one batch");
  }
  for (const auto& row : batch.identities) {
    auto found = identities_.find(row.id);
    if (found == identities_.end()) fail(store_fault::permanent, "no such identity");
    if (found->second.owner_epoch != row.owner_epoch)
      fail(store_fault::fenced, "identity owner epoch moved");
    if (!row.user_id.is_nil() && !user_exists_locked(row.user_id, &batch))
      fail(store_fault::permanent, "identity linked to an unknown user");
  }
  for (const auto& row : batch.sessions)
    if (!user_exists_locked(row.user_id, &batch))
      fail(store_fault::permanent, "session of an unknown user");
  std::set<std::string> new_hashes;
  for (const auto& row : batch.refresh_tokens)
    if (refresh_tokens_.count(row.token_hash) > 0 || !new_hashes.insert(row.token_hash).second)
      fail(store_fault::permanent, "duplicate refresh token hash");
}

void simulated_database::apply_auth_locked(const write_batch& batch) {
  for (const auto& row : batch.new_users) users_[row.id].row = row;
  for (const auto& row : batch.identities) identities_[row.id] = row;
  for (const auto& row : batch.magic_links) magic_links_[row.token_hash] = row;
  for (const auto& row : batch.login_codes) login_codes_[row.identity_id] = row;
  for (const auto& row : batch.sessions) sessions_[row.id] = row;
  for (const auto& row : batch.refresh_tokens) refresh_tokens_[row.token_hash] = row;
  outbox_.insert(outbox_.end(), batch.outbox.begin(), batch.outbox.end());
  audit_.insert(audit_.end(), batch.audit.begin(), batch.audit.end());
}

identity_snapshot simulated_database::activate_identity(const uuid& id, identity_kind kind,
                                                        const std::string& value,
                                                        timestamp_us now) {
  lock guard(mutex_);
  check_reachable_locked();
  auto found = identities_.find(id);
  if (found == identities_.end()) {
    // The real stores would insert a row with this value; an actor that
    // activates an unknown identity without knowing its value has a bug.
    if (value.empty()) fail(store_fault::permanent, "unknown identity activated without a value");
    identity_row row;
    row.id = id;
    row.kind = kind;
    row.value = value;
    row.created_at = now;
    for (const auto& [user_id, user] : users_) {
      const auto& held = kind == identity_kind::email ? user.row.email : user.row.phone;
      if (held == value) row.user_id = user_id;
    }
    found = identities_.emplace(id, row).first;
  }
  ++identity_activations_;
  ++found->second.owner_epoch;
  identity_snapshot snapshot;
  snapshot.identity = found->second;
  auto code = login_codes_.find(id);
  if (code != login_codes_.end()) snapshot.code = code->second;
  return snapshot;
}

std::vector<bool> simulated_database::known_identities(const std::vector<uuid>& ids) {
  lock guard(mutex_);
  check_reachable_locked();
  std::vector<bool> known;
  for (const auto& id : ids) known.push_back(identities_.count(id) > 0);
  return known;
}

std::optional<magic_link_row> simulated_database::find_magic_link(const std::string& token_hash) {
  lock guard(mutex_);
  check_reachable_locked();
  ++token_reads_;
  auto found = magic_links_.find(token_hash);
  if (found == magic_links_.end()) return std::nullopt;
  return found->second;
}

std::optional<session_row> simulated_database::find_session(const uuid& user, const uuid& session) {
  lock guard(mutex_);
  check_reachable_locked();
  ++session_reads_;
  auto found = sessions_.find(session);
  if (found == sessions_.end() || found->second.user_id != user) return std::nullopt;
  return found->second;
}

std::optional<refresh_token_row> simulated_database::find_refresh_token(
  const std::string& token_hash) {
  lock guard(mutex_);
  check_reachable_locked();
  ++token_reads_;
  auto found = refresh_tokens_.find(token_hash);
  if (found == refresh_tokens_.end()) return std::nullopt;
  return found->second;
}

void simulated_database::create_session(const session_row& session, const refresh_token_row& token) {
  lock guard(mutex_);
  check_reachable_locked();
  if (users_.count(session.user_id) == 0) fail(store_fault::permanent, "session of an unknown user");
  if (sessions_.count(session.id) > 0) fail(store_fault::permanent, "session id taken");
  if (refresh_tokens_.count(token.token_hash) > 0)
    fail(store_fault::permanent, "duplicate refresh token hash");
  sessions_[session.id] = session;
  refresh_tokens_[token.token_hash] = token;
}

size_t simulated_database::delete_expired_auth(timestamp_us now) {
  lock guard(mutex_);
  check_reachable_locked();
  const auto before = now - auth_retention_us;
  size_t deleted = 0;
  for (auto i = magic_links_.begin(); i != magic_links_.end();) {
    if (i->second.expires_at < before) {
      i = magic_links_.erase(i);
      ++deleted;
    } else {
      ++i;
    }
  }
  for (auto i = login_codes_.begin(); i != login_codes_.end();) {
    if (i->second.expires_at < before) {
      i = login_codes_.erase(i);
      ++deleted;
    } else {
      ++i;
    }
  }
  std::set<uuid> gone;
  for (auto i = sessions_.begin(); i != sessions_.end();) {
    const auto& row = i->second;
    if (row.expires_at < before || (row.revoked_at != 0 && row.revoked_at < before)) {
      gone.insert(row.id);
      i = sessions_.erase(i);
      ++deleted;
    } else {
      ++i;
    }
  }
  for (auto i = refresh_tokens_.begin(); i != refresh_tokens_.end();) {
    if (gone.count(i->second.session_id) > 0) {
      i = refresh_tokens_.erase(i);
      ++deleted;
    } else {
      ++i;
    }
  }
  return deleted;
}

size_t simulated_database::user_count() const {
  lock guard(mutex_);
  return users_.size();
}

std::vector<user_row> simulated_database::users_with(identity_kind kind,
                                                     const std::string& value) const {
  lock guard(mutex_);
  std::vector<user_row> out;
  for (const auto& [id, user] : users_)
    if ((kind == identity_kind::email ? user.row.email : user.row.phone) == value)
      out.push_back(user.row);
  return out;
}

std::optional<user_row> simulated_database::user(const uuid& id) const {
  lock guard(mutex_);
  auto found = users_.find(id);
  if (found == users_.end()) return std::nullopt;
  return found->second.row;
}

std::optional<identity_row> simulated_database::identity(const uuid& id) const {
  lock guard(mutex_);
  auto found = identities_.find(id);
  if (found == identities_.end()) return std::nullopt;
  return found->second;
}

std::optional<login_code_row> simulated_database::login_code(const uuid& identity) const {
  lock guard(mutex_);
  auto found = login_codes_.find(identity);
  if (found == login_codes_.end()) return std::nullopt;
  return found->second;
}

std::optional<magic_link_row> simulated_database::magic_link(const std::string& token_hash) const {
  lock guard(mutex_);
  auto found = magic_links_.find(token_hash);
  if (found == magic_links_.end()) return std::nullopt;
  return found->second;
}

std::optional<session_row> simulated_database::session(const uuid& id) const {
  lock guard(mutex_);
  auto found = sessions_.find(id);
  if (found == sessions_.end()) return std::nullopt;
  return found->second;
}

size_t simulated_database::refresh_token_count() const {
  lock guard(mutex_);
  return refresh_tokens_.size();
}

std::vector<outbox_row> simulated_database::outbox() const {
  lock guard(mutex_);
  return outbox_;
}

std::vector<audit_row> simulated_database::audit() const {
  lock guard(mutex_);
  return audit_;
}

size_t simulated_database::identity_activations() const {
  lock guard(mutex_);
  return identity_activations_;
}

size_t simulated_database::session_reads() const {
  lock guard(mutex_);
  return session_reads_;
}

size_t simulated_database::token_reads() const {
  lock guard(mutex_);
  return token_reads_;
}

std::function<std::unique_ptr<store>()> simulated_store_factory(std::shared_ptr<simulated_database> db,
                                                                activation_fence fence) {
  return [db, fence] {
    db->check_reachable();
    return std::unique_ptr<store>(std::make_unique<simulated_store>(db, fence));
  };
}

std::function<std::unique_ptr<store>()> simulated_store_factory(std::shared_ptr<simulated_database> db) {
  return [db] {
    db->check_reachable();
    return std::unique_ptr<store>(std::make_unique<simulated_store>(db));
  };
}

// -- tenants ---------------------------------------------------------------------

tenant_tables simulated_database::tenants() const {
  lock guard(mutex_);
  return tenants_;
}

void simulated_database::add_tenant(const tenant_row& row,
                                    const std::vector<tenant_member_row>& members) {
  lock guard(mutex_);
  tenants_.tenants[row.id] = row;
  for (const auto& member : members)
    tenants_.members[{member.tenant_id, member.user_id}] = member.role;
}

std::optional<tenant_snapshot> simulated_database::activate_tenant(const uuid& tenant) {
  lock guard(mutex_);
  check_reachable_locked();
  return tenants_.activate(tenant);
}

uuid simulated_database::find_subdomain_holder(const std::string& name) {
  lock guard(mutex_);
  check_reachable_locked();
  return tenants_.holder_of(name);
}

std::vector<membership_view> simulated_database::find_memberships(const uuid& user) {
  lock guard(mutex_);
  check_reachable_locked();
  return tenants_.memberships_of(user);
}

} // namespace tally::sim
