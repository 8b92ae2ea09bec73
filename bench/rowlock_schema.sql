-- Row-lock baseline schema for pgbench (bench/rowlock.sql): the tables a
-- conventional credits service keeps, in their own database so they never
-- touch Tally's. 10 000 users with more credits than any run can spend, so
-- every transaction takes the conditional UPDATE's success path.
DROP TABLE IF EXISTS charges;
DROP TABLE IF EXISTS credits;
DROP SEQUENCE IF EXISTS charge_key_seq;

CREATE TABLE credits (
  user_id int PRIMARY KEY,
  credits bigint NOT NULL CHECK (credits >= 0)
);

-- The idempotency key is the primary key: a duplicate request fails on the
-- unique index, the way such services detect replays.
CREATE TABLE charges (
  idempotency_key text PRIMARY KEY,
  user_id int NOT NULL,
  amount bigint NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Makes each transaction's key unique without a client-side counter.
CREATE SEQUENCE charge_key_seq;

INSERT INTO credits (user_id, credits)
SELECT g, 1000000000000 FROM generate_series(1, 10000) AS g;

VACUUM ANALYZE credits;
