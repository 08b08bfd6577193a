-- Second-factor codes are limited per pending sign-in: the session that waits for a code
-- counts the wrong ones and ends after a few.
ALTER TABLE sessions ADD COLUMN second_factor_failures INTEGER NOT NULL DEFAULT 0;

-- Failed sign-ins under names that belong to nobody, counted like an account's own, so
-- that the lockout answers alike for known and unknown names. Keyed by a keyed hash of
-- the lower-cased name: what people type into the name field is never stored.
CREATE TABLE sign_in_failures (
  name_hash TEXT PRIMARY KEY,
  failures INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE INDEX sign_in_failures_updated ON sign_in_failures (updated_at);

-- A reused idempotency key with a different request is refused: the request's digest
-- (method, path, body) is kept with the key.
ALTER TABLE idempotency_keys ADD COLUMN request_hash TEXT NOT NULL DEFAULT '';

-- The audit chain is keyed (HMAC-SHA-256 with a key derived from the secret key, which is
-- not in the database). key_id names the key an entry was sealed with ('' for entries
-- written before keying, SHA-256 only); covers lists the sheet events written in the same
-- transaction with their digests, so the chain vouches for the sheets' histories too.
ALTER TABLE audit_log ADD COLUMN key_id TEXT NOT NULL DEFAULT '';
ALTER TABLE audit_log ADD COLUMN covers TEXT NOT NULL DEFAULT '';
