#pragma once
// The store: where committed state lives. Two implementations, Postgres
// (libpqxx, production and clusters) and SQLite (WAL, the zero-setup
// default). A store object is one connection and is used by one thread at a
// time: the writer owns one, the reader owns another. Every call blocks, so
// only detached actors (own threads) call them, never a CAF worker.
//
// libpqxx and SQLite exceptions never escape: they become store_error.
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "protocols/records.hpp"

namespace tally {

/// One idempotency lookup of a batch (store::find_idempotency_many).
struct idempotency_probe {
  uuid user{};
  std::string key;
  /// Only records created at or after this count.
  timestamp_us since = 0;
};

/// One user activation of a batch (store::activate_users).
struct activation_request {
  uuid user{};
  /// Newest idempotency records to load at most.
  size_t recent_idempotency_max = 0;
  /// Only idempotency records created at or after this are loaded.
  timestamp_us idempotency_since = 0;
};

/// How a store operation failed, which decides what the writer does next.
enum class store_fault : uint8_t {
  /// Connection lost, server down, timeout, lock busy: retry with back-off.
  transient,
  /// The batch itself is bad (constraint, data): retrying cannot help.
  permanent,
  /// A conditional write found another owner epoch: this node lost the entity.
  fenced,
};

class store_error : public std::runtime_error {
public:
  store_error(store_fault fault, const std::string& what) : std::runtime_error(what), fault_(fault) {}
  store_fault fault() const { return fault_; }

private:
  store_fault fault_;
};

class store {
public:
  virtual ~store() = default;

  /// Applies pending versioned migrations (table schema_version). Idempotent.
  virtual void migrate() = 0;

  /// Cheap round trip; throws store_error(transient) when unreachable.
  virtual void ping() = 0;

  /// Inserts a user with zero balance. Throws store_error(permanent) if the
  /// id, email or phone exists already.
  virtual void create_user(const user_row& user) = 0;

  /// Loads a user for activation and bumps its owner epoch in the same
  /// transaction. nullopt = no such user. Loads at most
  /// `recent_idempotency_max` idempotency records, newest first, created
  /// after `idempotency_since`.
  virtual std::optional<user_snapshot> activate_user(const uuid& user, size_t recent_idempotency_max,
                                                     timestamp_us idempotency_since) = 0;

  /// Committed ledger entries, newest first.
  virtual ledger_page read_ledger(const uuid& user, const ledger_query& query) = 0;

  /// One stored idempotency record, if present and created after `since`.
  virtual std::optional<idempotency_record> find_idempotency(const uuid& user, const std::string& key,
                                                             timestamp_us since) = 0;

  /// find_idempotency for every probe in as few round trips as the store
  /// allows; answer i belongs to probe i. Fails as a whole (store_error).
  /// The default asks one probe at a time.
  virtual std::vector<std::optional<idempotency_record>> find_idempotency_many(
    const std::vector<idempotency_probe>& probes) {
    std::vector<std::optional<idempotency_record>> found;
    found.reserve(probes.size());
    for (const auto& probe : probes) found.push_back(find_idempotency(probe.user, probe.key, probe.since));
    return found;
  }

  /// activate_user for every request, in one transaction: every epoch is
  /// bumped, or none. Answer i belongs to request i (nullopt = no such user).
  /// A user named twice is bumped twice, like two activate_user calls. The
  /// default activates one user at a time (not atomic as a whole).
  virtual std::vector<std::optional<user_snapshot>> activate_users(
    const std::vector<activation_request>& requests) {
    std::vector<std::optional<user_snapshot>> loaded;
    loaded.reserve(requests.size());
    for (const auto& request : requests)
      loaded.push_back(activate_user(request.user, request.recent_idempotency_max, request.idempotency_since));
    return loaded;
  }

  /// Commits the whole batch in one transaction, or nothing. Balance writes
  /// are conditional on owner_epoch: a mismatch throws store_error(fenced).
  virtual void commit(const write_batch& batch) = 0;

  /// Deletes idempotency records created before `before`; returns how many.
  virtual size_t delete_idempotency_before(timestamp_us before) = 0;

  // -- auth ----------------------------------------------------------------------

  /// Loads an identity for activation and bumps its owner epoch in the same
  /// transaction. A missing row is created first (at `now`), linked to the
  /// existing user whose email/phone equals `value` if there is one (users
  /// made by `tally create-user`). Never nullopt: every identity can exist.
  virtual identity_snapshot activate_identity(const uuid& identity, identity_kind kind,
                                              const std::string& value, timestamp_us now) = 0;

  /// Whether an identity row exists, for every id, in as few round trips as
  /// the store allows; answer i belongs to id i. Creates nothing: a login
  /// attempt for an identity never requested must not grow the store.
  virtual std::vector<bool> known_identities(const std::vector<uuid>& ids) = 0;

  /// A magic link by its token hash, if it was ever issued (used or not).
  virtual std::optional<magic_link_row> find_magic_link(const std::string& token_hash) = 0;

  /// A session of `user` (revoked and expired ones too); nullopt if unknown.
  virtual std::optional<session_row> find_session(const uuid& user, const uuid& session) = 0;

  /// A refresh token ever issued, by hash; nullopt if unknown.
  virtual std::optional<refresh_token_row> find_refresh_token(const std::string& token_hash) = 0;

  /// Inserts a session and its first refresh token outside any actor (the
  /// `tally mint-token` command). Throws store_error(permanent) if the user
  /// does not exist or the session id is taken.
  virtual void create_session(const session_row& session, const refresh_token_row& token) = 0;

  /// Deletes what can no longer matter at `now`: magic links and codes
  /// expired more than a day ago, sessions (with their refresh tokens)
  /// expired or revoked more than a day ago. Returns rows deleted. The
  /// audit log and the outbox are kept (their consumers own their retention).
  virtual size_t delete_expired_auth(timestamp_us now) = 0;

  // -- generations ------------------------------------------------------------------

  /// Every pending or processing generation of these users (activation).
  virtual std::vector<generation_row> find_active_generations(const std::vector<uuid>& users) = 0;

  /// One generation of `user`; nullopt when unknown or another user's.
  virtual std::optional<generation_row> find_generation(const uuid& user, const uuid& generation) = 0;

  /// The user's generations, newest first (created_at, id), by the query.
  virtual generation_page read_generations(const uuid& user, const generation_query& query) = 0;

  /// Users holding a pending or processing generation whose timeout_at is
  /// at or before `due` (the sweep; start-up recovery asks with no bound).
  /// At most `max`, each once.
  virtual std::vector<uuid> users_with_generations_due(timestamp_us due, size_t max) = 0;

  // -- tenants -------------------------------------------------------------------
  //
  // Not pure: a store without tenants (a test double) refuses them for good.

  /// Loads a tenant (members, newest subscription) for activation and bumps
  /// its owner epoch in the same transaction. nullopt = no such tenant.
  virtual std::optional<tenant_snapshot> activate_tenant(const uuid& tenant) {
    (void)tenant;
    throw store_error(store_fault::permanent, "this store keeps no tenants");
  }

  /// The tenant holding subdomain `name`; nil = nobody.
  virtual uuid find_subdomain_holder(const std::string& name) {
    (void)name;
    throw store_error(store_fault::permanent, "this store keeps no tenants");
  }

  /// The tenants `user` is a member of, with names and roles.
  virtual std::vector<membership_view> find_memberships(const uuid& user) {
    (void)user;
    throw store_error(store_fault::permanent, "this store keeps no tenants");
  }

  // -- payment webhooks ------------------------------------------------------------

  /// The dedupe record of one event, by webhook_event_key; nullopt if none.
  virtual std::optional<webhook_event_row> find_webhook_event(const uuid& id) = 0;

  /// The payment object that topped up, by payment_object_key; nullopt if none.
  virtual std::optional<payment_row> find_payment(const uuid& id) = 0;

  /// Deletes event dedupe records first seen before `before`; returns how
  /// many. Payment rows are kept: they are the record of a top-up, like the
  /// ledger, and keep a late redelivery from topping up again.
  virtual size_t delete_webhook_events_before(timestamp_us before) = 0;
};

/// Opens "sqlite:<path>" or a libpq URI ("postgresql://..."/"postgres://...").
/// Throws store_error(transient) when the store cannot be reached and
/// std::invalid_argument for a malformed URL.
std::unique_ptr<store> open_store(const std::string& url);

} // namespace tally
