-- A notice keeps what it says as its kind and arguments (the sheet's number, the deadline),
-- so each reader sees it in their own language; title and body stay as first sent (for
-- the gateway and for notices written before).
ALTER TABLE notifications ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
