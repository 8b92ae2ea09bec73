#pragma once
// Migration 3: the generations table (issue 10), one text per dialect,
// included by migrations.cpp only. The partial unique index makes an
// idempotency key name at most one generation per user (a second guard
// behind the user actor); (user_id, created_at, id) serves the list and its
// cursor; the partial index on timeout_at serves the sweep and start-up
// recovery, and holds only active rows.
namespace tally::generation_schema {

constexpr const char* sqlite = R"sql(
CREATE TABLE generations (
  id              TEXT    PRIMARY KEY,
  user_id         TEXT    NOT NULL,
  model_id        TEXT    NOT NULL,
  price           INTEGER NOT NULL CHECK (price > 0),
  prompt          TEXT    NOT NULL,
  params          TEXT    NOT NULL,
  status          TEXT    NOT NULL
                  CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
  result_url      TEXT,
  error           TEXT,
  idempotency_key TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  timeout_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX generations_user_key ON generations (user_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX generations_user_created ON generations (user_id, created_at, id);
CREATE INDEX generations_active_timeout ON generations (timeout_at)
  WHERE status IN ('pending', 'processing');
)sql";

constexpr const char* postgres = R"sql(
CREATE TABLE generations (
  id              uuid        PRIMARY KEY,
  user_id         uuid        NOT NULL,
  model_id        text        NOT NULL,
  price           bigint      NOT NULL CHECK (price > 0),
  prompt          text        NOT NULL,
  params          text        NOT NULL,
  status          text        NOT NULL
                  CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
  result_url      text,
  error           text,
  idempotency_key text,
  created_at      timestamptz NOT NULL,
  updated_at      timestamptz NOT NULL,
  timeout_at      timestamptz NOT NULL
);
CREATE UNIQUE INDEX generations_user_key ON generations (user_id, idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE INDEX generations_user_created ON generations (user_id, created_at, id);
CREATE INDEX generations_active_timeout ON generations (timeout_at)
  WHERE status IN ('pending', 'processing');
)sql";

} // namespace tally::generation_schema
