#pragma once
// What the persistence layer reads and writes. A user actor turns each
// accepted command into records; the writer commits a batch of them in one
// transaction (group commit).
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "protocols/auth.hpp"
#include "protocols/credits.hpp"
#include "protocols/fields.hpp"
#include "protocols/generations.hpp"
#include "protocols/webhook.hpp"

namespace tally {

/// A user as created by login (auth issue) or by `tally create-user`.
struct user_row {
  uuid id{};
  std::string email;  ///< empty = none
  std::string phone;  ///< empty = none
  timestamp_us created_at = 0;
};

/// A stored idempotent response: replayed for the same key and digest.
/// `response` is the msgpack encoding of the result (protocols/codec.hpp).
struct idempotency_record {
  uuid user_id{};
  std::string key;
  std::string request_digest;
  int status = 0;          ///< HTTP status of the stored response
  std::string response;    ///< msgpack bytes
  timestamp_us created_at = 0;
};

/// Everything a user actor needs at activation.
struct user_snapshot {
  user_row user;
  balance bal;
  int64_t ledger_seq = 0;    ///< seq of the newest ledger entry (0 = none)
  int64_t owner_epoch = 0;   ///< already bumped by this activation
  /// The newest idempotency records (at most the limit asked for).
  std::vector<idempotency_record> recent_idempotency;
  /// True when the store holds unexpired records beyond recent_idempotency:
  /// a key not in memory must then be looked up in the store.
  bool older_idempotency_in_store = false;
  /// Sessions are not loaded here: a user actor loads each one on its first
  /// use (store::find_session), so idle users cost no session memory.
  /// Generations still pending or processing in the store. A user with
  /// active generations is never passivated, so at activation these were
  /// left by an earlier incarnation (a crash, a reload): they are failed
  /// as interrupted and released before any command is served.
  std::vector<generation_row> active_generations;
};

/// The coalesced balance of one user after a batch. The write is conditional
/// on owner_epoch (fencing, ready for the cluster).
struct balance_write {
  uuid user_id{};
  int64_t owner_epoch = 0;
  balance bal;
  int64_t ledger_seq = 0;
  timestamp_us updated_at = 0;
};

struct ledger_write {
  uuid user_id{};
  ledger_entry entry;
  std::string description;  ///< charge description; not part of the API's ledger view
};

// -- auth (API.md "Auth") -------------------------------------------------------
//
// Hashes are lower-case hex SHA-256 of the whole token (sha256_hex), or for
// codes hex HMAC-SHA256(code pepper, code). Timestamps of 0 mean "never".

/// An email address or phone number that can log in, owned by its identity
/// actor. Writes are conditional on owner_epoch, like balance writes.
struct identity_row {
  uuid id{};                        ///< identity_id(kind, value)
  identity_kind kind = identity_kind::email;
  std::string value;                ///< normalised email or E.164 phone
  uuid user_id{};                   ///< nil until the first login created the user
  /// GCRA state of the per-identity request limit (magic link / code).
  timestamp_us request_limit_tat = 0;
  int64_t owner_epoch = 0;
  timestamp_us created_at = 0;
};

/// The identity's current phone code; a new request replaces the row.
struct login_code_row {
  uuid identity_id{};
  std::string code_hash;
  timestamp_us created_at = 0;
  timestamp_us expires_at = 0;
  int failures = 0;
  /// An attempt before this is refused (back-off after a failure).
  timestamp_us next_attempt_at = 0;
  /// Burnt by the last allowed failure: CODE_LOCKED until a new code.
  bool locked = false;
};

/// A magic-link token issued for an identity; single use.
struct magic_link_row {
  std::string token_hash;
  uuid identity_id{};
  timestamp_us created_at = 0;
  timestamp_us expires_at = 0;
  timestamp_us used_at = 0;
};

/// A session, owned by its user's actor.
struct session_row {
  uuid id{};
  uuid user_id{};
  std::string refresh_hash;           ///< the current refresh token
  std::string previous_refresh_hash;  ///< the one rotated out last (grace window)
  timestamp_us rotated_at = 0;        ///< when previous was rotated out
  timestamp_us created_at = 0;
  timestamp_us expires_at = 0;
  timestamp_us revoked_at = 0;
};

/// Every refresh token ever issued (hash only), so that presenting any
/// rotated-out token of a session is recognised as reuse.
struct refresh_token_row {
  std::string token_hash;
  uuid session_id{};
  uuid user_id{};
  timestamp_us issued_at = 0;
};

/// A message for a mailer / SMS sender to deliver. The body necessarily
/// holds the link or code: the outbox is as sensitive as a mail spool.
struct outbox_row {
  uuid id{};
  std::string channel;      ///< "email" or "sms"
  std::string destination;  ///< the email address or phone number
  std::string body;
  timestamp_us created_at = 0;
};

/// One audit log line. Never holds a token, code or hash.
struct audit_row {
  uuid id{};
  timestamp_us created_at = 0;
  /// login_succeeded, login_failed, code_failed, refreshed,
  /// refresh_reuse_detected, logged_out, session_revoked ...
  std::string event;
  std::string request_id;
  uuid user_id{};     ///< nil = unknown
  uuid session_id{};  ///< nil = none
  std::string client_ip;
  std::string detail;  ///< e.g. "magic_link", "code", the failure's code
};

/// Everything an identity actor needs at activation.
struct identity_snapshot {
  identity_row identity;  ///< owner_epoch already bumped
  std::optional<login_code_row> code;
};

// -- tenants (API.md "Tenants and modules") ------------------------------------------
//
// A tenant actor writes its own row (fenced on owner_epoch, like identities),
// its members, its subscriptions and, in the same write as the module, the
// subdomain's holder: an activation is one entity write, so one transaction.

/// A tenant, owned by its tenant actor. Upserted by id, conditional on
/// owner_epoch (a new tenant is inserted at epoch 1).
struct tenant_row {
  uuid id{};
  std::string name;
  uuid owner_id{};
  std::string active_module;  ///< empty = none
  std::string subdomain;      ///< empty = none
  int64_t owner_epoch = 0;
  timestamp_us created_at = 0;
};

/// A member of a tenant; inserted once ((tenant_id, user_id) is unique).
struct tenant_member_row {
  uuid tenant_id{};
  uuid user_id{};
  std::string role;  ///< "owner", "admin" or "member"
  timestamp_us created_at = 0;
};

/// Who holds a subdomain. held: inserted (the name's primary key is the
/// store's guard against two holders); released: deleted where this tenant
/// holds it (a store that finds another holder refuses the write). Never
/// coalesced: a release and a new hold of one name keep their order.
struct subdomain_write {
  std::string name;
  uuid tenant_id{};
  bool held = false;
  timestamp_us at = 0;
};

/// A module's subscription; upserted by id. At most one per tenant is not
/// cancelled (a unique index guards it).
struct subscription_row {
  uuid id{};
  uuid tenant_id{};
  std::string module;
  std::string plan;    ///< "trial"
  std::string status;  ///< "trialing" or "cancelled"
  timestamp_us trial_ends_at = 0;
  timestamp_us created_at = 0;
  timestamp_us updated_at = 0;
};

/// Everything a tenant actor needs at activation (owner_epoch bumped).
struct tenant_snapshot {
  tenant_row tenant;
  std::vector<tenant_member_row> members;
  /// The newest subscription, cancelled or not.
  std::optional<subscription_row> subscription;
};

/// One transaction's worth of records, in entity order. A record type is
/// one vector here and one entry in the field list below (TALLY_FIELDS
/// (write_batch, ...)): that list, not the member order, is what the write
/// queue coalesces and what each store commits, in its order.
struct write_batch {
  std::vector<balance_write> balances;
  std::vector<ledger_write> ledger;
  std::vector<idempotency_record> idempotency;
  /// Users created by their first login (an identity actor).
  std::vector<user_row> new_users;
  /// Conditional on owner_epoch (fenced otherwise), like balances.
  std::vector<identity_row> identities;
  /// Upserts by token_hash (issue, then mark used).
  std::vector<magic_link_row> magic_links;
  /// Upserts by identity_id (a new code replaces the old one).
  std::vector<login_code_row> login_codes;
  /// Upserts by id.
  std::vector<session_row> sessions;
  std::vector<refresh_token_row> refresh_tokens;
  std::vector<outbox_row> outbox;
  std::vector<audit_row> audit;
  /// Upserts by id: created pending, then each status change.
  std::vector<generation_row> generations;
  /// Tenants (fenced on owner_epoch), members, subdomain holders, subscriptions.
  std::vector<tenant_row> tenants;
  std::vector<tenant_member_row> tenant_members;
  std::vector<subdomain_write> subdomains;
  std::vector<subscription_row> subscriptions;
  /// Payment webhooks: dedupe records, upserted (merged) by id.
  std::vector<webhook_event_row> webhook_events;
  /// Payment objects that topped up; inserted once (primary key: the object).
  std::vector<payment_row> payments;

  /// Rows in all the vectors (defined below, over the field list).
  size_t record_count() const;
  bool empty() const { return record_count() == 0; }
};

// -- field lists (protocols/fields.hpp) ----------------------------------------------
TALLY_FIELDS(user_row, x.id, x.email, x.phone, x.created_at)
TALLY_FIELDS(idempotency_record, x.user_id, x.key, x.request_digest, x.status, x.response,
             x.created_at)
TALLY_FIELDS(user_snapshot, x.user, x.bal, x.ledger_seq, x.owner_epoch, x.recent_idempotency,
             x.older_idempotency_in_store, x.active_generations)
TALLY_FIELDS(balance_write, x.user_id, x.owner_epoch, x.bal, x.ledger_seq, x.updated_at)
TALLY_FIELDS(ledger_write, x.user_id, x.entry, x.description)
TALLY_FIELDS(identity_row, x.id, x.kind, x.value, x.user_id, x.request_limit_tat, x.owner_epoch,
             x.created_at)
TALLY_FIELDS(login_code_row, x.identity_id, x.code_hash, x.created_at, x.expires_at, x.failures,
             x.next_attempt_at, x.locked)
TALLY_FIELDS(magic_link_row, x.token_hash, x.identity_id, x.created_at, x.expires_at, x.used_at)
TALLY_FIELDS(session_row, x.id, x.user_id, x.refresh_hash, x.previous_refresh_hash, x.rotated_at,
             x.created_at, x.expires_at, x.revoked_at)
TALLY_FIELDS(refresh_token_row, x.token_hash, x.session_id, x.user_id, x.issued_at)
TALLY_FIELDS(outbox_row, x.id, x.channel, x.destination, x.body, x.created_at)
TALLY_FIELDS(audit_row, x.id, x.created_at, x.event, x.request_id, x.user_id, x.session_id,
             x.client_ip, x.detail)
TALLY_FIELDS(identity_snapshot, x.identity, x.code)
TALLY_FIELDS(tenant_row, x.id, x.name, x.owner_id, x.active_module, x.subdomain, x.owner_epoch,
             x.created_at)
TALLY_FIELDS(tenant_member_row, x.tenant_id, x.user_id, x.role, x.created_at)
TALLY_FIELDS(subdomain_write, x.name, x.tenant_id, x.held, x.at)
TALLY_FIELDS(subscription_row, x.id, x.tenant_id, x.module, x.plan, x.status, x.trial_ends_at,
             x.created_at, x.updated_at)
TALLY_FIELDS(tenant_snapshot, x.tenant, x.members, x.subscription)
// The one list of persisted record types, in the order the stores commit
// them: new users first, because the other rows of the batch may refer to
// them (a balance update needs its user's row to exist).
// Each store has one writer per type (write_rows overloads); a type without
// one does not compile. Coalescing keys: persistence/coalesce_key.hpp.
TALLY_FIELDS(write_batch, x.new_users, x.balances, x.identities, x.ledger, x.idempotency,
             x.magic_links, x.login_codes, x.sessions, x.refresh_tokens, x.outbox, x.audit,
             x.generations, x.tenants, x.tenant_members, x.subdomains, x.subscriptions,
             x.webhook_events, x.payments)

inline size_t write_batch::record_count() const {
  return fields(*this, [](const auto&... rows) { return (size_t{0} + ... + rows.size()); });
}

} // namespace tally
