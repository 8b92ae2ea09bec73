-- The pattern Tally replaces: one charge = one transaction that takes the
-- user's row lock (conditional UPDATE) and inserts the charge under a unique
-- idempotency key. Concurrent charges of one user queue on that row lock.
--   hot user:     pgbench -n -c 64 -j 2 -T 10 -D users=1     -f bench/rowlock.sql
--   10 000 users: pgbench -n -c 64 -j 2 -T 10 -D users=10000 -f bench/rowlock.sql
-- (schema: bench/rowlock_schema.sql). A real service would check the UPDATE's
-- row count and roll back on 0; the schema grants enough credits that it is
-- always 1, so the script needs no branch.
\set uid random(1, :users)
BEGIN;
UPDATE credits SET credits = credits - 1 WHERE user_id = :uid AND credits >= 1;
INSERT INTO charges (idempotency_key, user_id, amount)
  VALUES ('c' || :client_id || '-' || nextval('charge_key_seq'), :uid, 1);
END;
