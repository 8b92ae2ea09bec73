#include "persistence/migrations.hpp"

#include "persistence/generation_schema.hpp"

namespace tally {
namespace {

// Version 1: users with their balance and owner epoch, the append-only
// ledger, and stored idempotent responses. The (user_id, created_at) index
// serves activation (newest keys of one user) without sorting a hot user's
// whole day of keys; the created_at index serves expiry.
//
// No foreign keys from ledger_entries and idempotency_keys to users: they
// cost ~35% of Postgres CPU on the hot commit (measured), and they guard
// nothing the commit does not already guard. Every batch that inserts rows
// for a user also holds that user's balance write, conditional on id and
// owner epoch; a missing user fails it and rolls the whole batch back.
constexpr const char* sqlite_v1 = R"sql(
CREATE TABLE users (
  id          TEXT    PRIMARY KEY,
  email       TEXT    UNIQUE,
  phone       TEXT    UNIQUE,
  available   INTEGER NOT NULL DEFAULT 0 CHECK (available >= 0),
  reserved    INTEGER NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  ledger_seq  INTEGER NOT NULL DEFAULT 0,
  owner_epoch INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE TABLE ledger_entries (
  user_id         TEXT    NOT NULL,
  seq             INTEGER NOT NULL CHECK (seq > 0),
  id              TEXT    NOT NULL UNIQUE,
  type            TEXT    NOT NULL
                  CHECK (type IN ('grant', 'topup', 'debit', 'charge', 'reserve', 'capture', 'release')),
  amount          INTEGER NOT NULL CHECK (amount > 0),
  available_after INTEGER NOT NULL,
  reserved_after  INTEGER NOT NULL,
  reference       TEXT    NOT NULL,
  description     TEXT,
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (user_id, seq)
) WITHOUT ROWID;
CREATE TABLE idempotency_keys (
  user_id        TEXT    NOT NULL,
  key            TEXT    NOT NULL,
  request_digest TEXT    NOT NULL,
  status         INTEGER NOT NULL,
  response       BLOB    NOT NULL,
  created_at     INTEGER NOT NULL,
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_user_created_at ON idempotency_keys (user_id, created_at);
)sql";

constexpr const char* postgres_v1 = R"sql(
CREATE TABLE users (
  id          uuid        PRIMARY KEY,
  email       text        UNIQUE,
  phone       text        UNIQUE,
  available   bigint      NOT NULL DEFAULT 0 CHECK (available >= 0),
  reserved    bigint      NOT NULL DEFAULT 0 CHECK (reserved >= 0),
  ledger_seq  bigint      NOT NULL DEFAULT 0,
  owner_epoch bigint      NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE ledger_entries (
  user_id         uuid        NOT NULL,
  seq             bigint      NOT NULL CHECK (seq > 0),
  id              uuid        NOT NULL UNIQUE,
  type            text        NOT NULL
                  CHECK (type IN ('grant', 'topup', 'debit', 'charge', 'reserve', 'capture', 'release')),
  amount          bigint      NOT NULL CHECK (amount > 0),
  available_after bigint      NOT NULL,
  reserved_after  bigint      NOT NULL,
  reference       text        NOT NULL,
  description     text,
  created_at      timestamptz NOT NULL,
  PRIMARY KEY (user_id, seq)
);
CREATE TABLE idempotency_keys (
  user_id        uuid        NOT NULL,
  key            text        NOT NULL,
  request_digest text        NOT NULL,
  status         integer     NOT NULL,
  response       bytea       NOT NULL,
  created_at     timestamptz NOT NULL,
  PRIMARY KEY (user_id, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
CREATE INDEX idempotency_keys_user_created_at ON idempotency_keys (user_id, created_at);
)sql";

// Version 2: auth (API.md "Auth"). Identities (an email or a phone that can
// log in, owned by its identity actor, fenced by owner_epoch like users),
// the current login code per identity, magic links, sessions with rotating
// refresh tokens, the outbox a mailer / SMS sender polls, and the audit log.
// Hashes are hex TEXT. Timestamps follow v1 per dialect; a "never" (a link
// not used, a session not revoked or never rotated, a message not yet
// delivered) is NULL, and a nil user or session is NULL.
//
// No foreign keys, as in v1: each row is written by the actor that owns it,
// whose batch also carries the epoch-conditional write of its entity;
// create_session checks its user explicitly. The expires_at / revoked_at
// indexes serve delete_expired_auth, which runs every minute and must not
// scan 30 days of sessions each time.
constexpr const char* sqlite_v2 = R"sql(
CREATE TABLE identities (
  id                TEXT    PRIMARY KEY,
  kind              TEXT    NOT NULL CHECK (kind IN ('email', 'phone')),
  value             TEXT    NOT NULL,
  user_id           TEXT,
  request_limit_tat INTEGER NOT NULL DEFAULT 0,
  owner_epoch       INTEGER NOT NULL DEFAULT 0,
  created_at        INTEGER NOT NULL,
  UNIQUE (kind, value)
);
CREATE TABLE login_codes (
  identity_id     TEXT    PRIMARY KEY,
  code_hash       TEXT    NOT NULL,
  created_at      INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL,
  failures        INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  locked          INTEGER NOT NULL DEFAULT 0 CHECK (locked IN (0, 1))
);
CREATE INDEX login_codes_expires_at ON login_codes (expires_at);
CREATE TABLE magic_links (
  token_hash  TEXT    PRIMARY KEY,
  identity_id TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  used_at     INTEGER
);
CREATE INDEX magic_links_expires_at ON magic_links (expires_at);
CREATE TABLE sessions (
  id                    TEXT    PRIMARY KEY,
  user_id               TEXT    NOT NULL,
  refresh_hash          TEXT    NOT NULL,
  previous_refresh_hash TEXT,
  rotated_at            INTEGER,
  created_at            INTEGER NOT NULL,
  expires_at            INTEGER NOT NULL,
  revoked_at            INTEGER
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE TABLE refresh_tokens (
  token_hash TEXT    PRIMARY KEY,
  session_id TEXT    NOT NULL,
  user_id    TEXT    NOT NULL,
  issued_at  INTEGER NOT NULL
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE TABLE outbox (
  id           TEXT    PRIMARY KEY,
  channel      TEXT    NOT NULL CHECK (channel IN ('email', 'sms')),
  destination  TEXT    NOT NULL,
  body         TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  delivered_at INTEGER
);
CREATE INDEX outbox_undelivered ON outbox (created_at) WHERE delivered_at IS NULL;
CREATE TABLE audit_log (
  id         TEXT    PRIMARY KEY,
  created_at INTEGER NOT NULL,
  event      TEXT    NOT NULL,
  request_id TEXT    NOT NULL,
  user_id    TEXT,
  session_id TEXT,
  client_ip  TEXT    NOT NULL,
  detail     TEXT    NOT NULL
);
CREATE INDEX audit_log_created_at ON audit_log (created_at);
CREATE INDEX audit_log_user_id ON audit_log (user_id, created_at);
)sql";

constexpr const char* postgres_v2 = R"sql(
CREATE TABLE identities (
  id                uuid        PRIMARY KEY,
  kind              text        NOT NULL CHECK (kind IN ('email', 'phone')),
  value             text        NOT NULL,
  user_id           uuid,
  request_limit_tat timestamptz NOT NULL DEFAULT 'epoch',
  owner_epoch       bigint      NOT NULL DEFAULT 0,
  created_at        timestamptz NOT NULL DEFAULT now(),
  UNIQUE (kind, value)
);
CREATE TABLE login_codes (
  identity_id     uuid        PRIMARY KEY,
  code_hash       text        NOT NULL,
  created_at      timestamptz NOT NULL,
  expires_at      timestamptz NOT NULL,
  failures        integer     NOT NULL DEFAULT 0 CHECK (failures >= 0),
  next_attempt_at timestamptz NOT NULL DEFAULT 'epoch',
  locked          boolean     NOT NULL DEFAULT false
);
CREATE INDEX login_codes_expires_at ON login_codes (expires_at);
CREATE TABLE magic_links (
  token_hash  text        PRIMARY KEY,
  identity_id uuid        NOT NULL,
  created_at  timestamptz NOT NULL,
  expires_at  timestamptz NOT NULL,
  used_at     timestamptz
);
CREATE INDEX magic_links_expires_at ON magic_links (expires_at);
CREATE TABLE sessions (
  id                    uuid        PRIMARY KEY,
  user_id               uuid        NOT NULL,
  refresh_hash          text        NOT NULL,
  previous_refresh_hash text,
  rotated_at            timestamptz,
  created_at            timestamptz NOT NULL,
  expires_at            timestamptz NOT NULL,
  revoked_at            timestamptz
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_revoked_at ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE TABLE refresh_tokens (
  token_hash text        PRIMARY KEY,
  session_id uuid        NOT NULL,
  user_id    uuid        NOT NULL,
  issued_at  timestamptz NOT NULL
);
CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
CREATE TABLE outbox (
  id           uuid        PRIMARY KEY,
  channel      text        NOT NULL CHECK (channel IN ('email', 'sms')),
  destination  text        NOT NULL,
  body         text        NOT NULL,
  created_at   timestamptz NOT NULL,
  delivered_at timestamptz
);
CREATE INDEX outbox_undelivered ON outbox (created_at) WHERE delivered_at IS NULL;
CREATE TABLE audit_log (
  id         uuid        PRIMARY KEY,
  created_at timestamptz NOT NULL,
  event      text        NOT NULL,
  request_id text        NOT NULL,
  user_id    uuid,
  session_id uuid,
  client_ip  text        NOT NULL,
  detail     text        NOT NULL
);
CREATE INDEX audit_log_created_at ON audit_log (created_at);
CREATE INDEX audit_log_user_id ON audit_log (user_id, created_at);
)sql";

// Version 4: tenants and modules (API.md "Tenants and modules"). The
// actors keep one module per tenant and one tenant per subdomain; these
// constraints are the second guard: subdomains.name is the primary key (a
// second holder's insert fails), a tenant holds at most one name, and at
// most one subscription per tenant is not cancelled. tenant_members is
// read by user (GET /v1/auth/me loads a user's tenants once per activation).
constexpr const char* tenant_sqlite_v4 = R"sql(
CREATE TABLE tenants (
  id            TEXT    PRIMARY KEY,
  name          TEXT    NOT NULL,
  owner_id      TEXT    NOT NULL,
  active_module TEXT,
  subdomain     TEXT,
  owner_epoch   INTEGER NOT NULL,
  created_at    INTEGER NOT NULL
);
CREATE TABLE tenant_members (
  tenant_id  TEXT    NOT NULL,
  user_id    TEXT    NOT NULL,
  role       TEXT    NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  created_at INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX tenant_members_user_id ON tenant_members (user_id);
CREATE TABLE subdomains (
  name       TEXT    PRIMARY KEY,
  tenant_id  TEXT    NOT NULL UNIQUE,
  held_since INTEGER NOT NULL
);
CREATE TABLE subscriptions (
  id            TEXT    PRIMARY KEY,
  tenant_id     TEXT    NOT NULL,
  module        TEXT    NOT NULL,
  plan          TEXT    NOT NULL,
  status        TEXT    NOT NULL CHECK (status IN ('trialing', 'cancelled')),
  trial_ends_at INTEGER NOT NULL,
  created_at    INTEGER NOT NULL,
  updated_at    INTEGER NOT NULL
);
CREATE INDEX subscriptions_tenant_id ON subscriptions (tenant_id, created_at);
CREATE UNIQUE INDEX subscriptions_one_live ON subscriptions (tenant_id) WHERE status <> 'cancelled';
)sql";

constexpr const char* tenant_postgres_v4 = R"sql(
CREATE TABLE tenants (
  id            uuid        PRIMARY KEY,
  name          text        NOT NULL,
  owner_id      uuid        NOT NULL,
  active_module text,
  subdomain     text,
  owner_epoch   bigint      NOT NULL,
  created_at    timestamptz NOT NULL
);
CREATE TABLE tenant_members (
  tenant_id  uuid        NOT NULL,
  user_id    uuid        NOT NULL,
  role       text        NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  created_at timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX tenant_members_user_id ON tenant_members (user_id);
CREATE TABLE subdomains (
  name       text        PRIMARY KEY,
  tenant_id  uuid        NOT NULL UNIQUE,
  held_since timestamptz NOT NULL
);
CREATE TABLE subscriptions (
  id            uuid        PRIMARY KEY,
  tenant_id     uuid        NOT NULL,
  module        text        NOT NULL,
  plan          text        NOT NULL,
  status        text        NOT NULL CHECK (status IN ('trialing', 'cancelled')),
  trial_ends_at timestamptz NOT NULL,
  created_at    timestamptz NOT NULL,
  updated_at    timestamptz NOT NULL
);
CREATE INDEX subscriptions_tenant_id ON subscriptions (tenant_id, created_at);
CREATE UNIQUE INDEX subscriptions_one_live ON subscriptions (tenant_id) WHERE status <> 'cancelled';
)sql";

// Version 5: payment webhooks. webhook_events are the dedupe records of
// event ids (swept after the retention, by first_seen_at); payments hold
// one row per payment object that topped up, and their primary key is what
// refuses a second top-up of one object in the store.
constexpr const char* payment_sqlite_v5 = R"sql(
CREATE TABLE webhook_events (
  id            TEXT    PRIMARY KEY,
  event_id      TEXT    NOT NULL UNIQUE,
  type          TEXT    NOT NULL,
  status        TEXT    NOT NULL
                CHECK (status IN ('processed', 'duplicate', 'ignored', 'rejected')),
  deliveries    INTEGER NOT NULL CHECK (deliveries > 0),
  first_seen_at INTEGER NOT NULL,
  processed_at  INTEGER
);
CREATE INDEX webhook_events_first_seen_at ON webhook_events (first_seen_at);
CREATE TABLE payments (
  id         TEXT    PRIMARY KEY,
  object_id  TEXT    NOT NULL UNIQUE,
  user_id    TEXT    NOT NULL,
  credits    INTEGER NOT NULL CHECK (credits > 0),
  event_id   TEXT    NOT NULL,
  created_at INTEGER NOT NULL
);
)sql";

constexpr const char* payment_postgres_v5 = R"sql(
CREATE TABLE webhook_events (
  id            uuid        PRIMARY KEY,
  event_id      text        NOT NULL UNIQUE,
  type          text        NOT NULL,
  status        text        NOT NULL
                CHECK (status IN ('processed', 'duplicate', 'ignored', 'rejected')),
  deliveries    bigint      NOT NULL CHECK (deliveries > 0),
  first_seen_at timestamptz NOT NULL,
  processed_at  timestamptz
);
CREATE INDEX webhook_events_first_seen_at ON webhook_events (first_seen_at);
CREATE TABLE payments (
  id         uuid        PRIMARY KEY,
  object_id  text        NOT NULL UNIQUE,
  user_id    uuid        NOT NULL,
  credits    bigint      NOT NULL CHECK (credits > 0),
  event_id   text        NOT NULL,
  created_at timestamptz NOT NULL
);
)sql";

// Version 6: cluster membership and shard leases (DESIGN.md "Cluster";
// persistence/lease_store.hpp holds the statements). cluster_meta records
// the shard count once (a node built with another count refuses to start);
// shard_leases gets its rows (one per shard) from the first node that joins.
// Expiry is decided by the database clock only (now()), never a node's.
// SQLite runs one node, so its step creates nothing (the lists stay in step).
constexpr const char* cluster_sqlite_v6 = "-- cluster mode is Postgres only";

constexpr const char* cluster_postgres_v6 = R"sql(
CREATE TABLE cluster_meta (
  id          smallint PRIMARY KEY CHECK (id = 1),
  shard_count integer  NOT NULL CHECK (shard_count > 0)
);
CREATE TABLE cluster_nodes (
  id               text        PRIMARY KEY,
  incarnation      bigint      NOT NULL CHECK (incarnation > 0),
  http_address     text        NOT NULL,
  internal_address text        NOT NULL,
  lease_ttl_ms     bigint      NOT NULL CHECK (lease_ttl_ms > 0),
  joined_at        timestamptz NOT NULL DEFAULT now(),
  renewed_at       timestamptz NOT NULL DEFAULT now(),
  left_at          timestamptz
);
CREATE TABLE shard_leases (
  shard             integer     PRIMARY KEY CHECK (shard >= 0),
  owner_node        text,
  owner_incarnation bigint,
  epoch             bigint      NOT NULL DEFAULT 0,
  expires_at        timestamptz NOT NULL DEFAULT '-infinity',
  CHECK ((owner_node IS NULL) = (owner_incarnation IS NULL))
);
CREATE INDEX shard_leases_owner ON shard_leases (owner_node, owner_incarnation);
)sql";

} // namespace

const char* schema_version_table_sql(sql_dialect dialect) {
  if (dialect == sql_dialect::sqlite)
    return "CREATE TABLE IF NOT EXISTS schema_version ("
           " version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)";
  return "CREATE TABLE IF NOT EXISTS schema_version ("
         " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())";
}

const std::vector<migration>& migrations_for(sql_dialect dialect) {
  static const std::vector<migration> sqlite_steps{
    {1, sqlite_v1},       {2, sqlite_v2},       {3, generation_schema::sqlite},
    {4, tenant_sqlite_v4}, {5, payment_sqlite_v5}, {6, cluster_sqlite_v6}};
  static const std::vector<migration> postgres_steps{
    {1, postgres_v1},       {2, postgres_v2},       {3, generation_schema::postgres},
    {4, tenant_postgres_v4}, {5, payment_postgres_v5}, {6, cluster_postgres_v6}};
  return dialect == sql_dialect::sqlite ? sqlite_steps : postgres_steps;
}

int schema_version_latest() {
  return migrations_for(sql_dialect::postgres).back().version;
}

} // namespace tally
