-- Clock targets per community and kind, the community's business calendar, and the
-- notices the scheduler sends (in-app inbox and an outbox for an SMS/WeCom gateway).

CREATE TABLE sla_targets (
  community_id INTEGER NOT NULL REFERENCES communities(id),
  -- A sheet kind, or '*' for every kind without a target of its own.
  kind TEXT NOT NULL,
  clock TEXT NOT NULL CHECK (clock IN ('collection')),
  target_minutes INTEGER NOT NULL CHECK (target_minutes > 0),
  warn_minutes INTEGER NOT NULL CHECK (warn_minutes >= 0),
  counting TEXT NOT NULL CHECK (counting IN ('round_the_clock', 'business_hours')),
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (community_id, kind, clock)
) STRICT;

-- Working hours per weekday (0 = Monday); a community without rows works Monday to
-- Friday 08:30–17:30.
CREATE TABLE calendar_hours (
  community_id INTEGER NOT NULL REFERENCES communities(id),
  weekday INTEGER NOT NULL CHECK (weekday BETWEEN 0 AND 6),
  start_minute INTEGER NOT NULL CHECK (start_minute BETWEEN 0 AND 1440),
  end_minute INTEGER NOT NULL CHECK (end_minute BETWEEN 0 AND 1440),
  PRIMARY KEY (community_id, weekday)
) STRICT;

-- Public holidays and make-up working days (调休).
CREATE TABLE calendar_days (
  community_id INTEGER NOT NULL REFERENCES communities(id),
  day TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
  note TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (community_id, day)
) STRICT;

-- When the collection clock warns, and how far the notices have gone:
-- 0 none, 1 due-soon warning, 2 overdue notice, 3 escalated.
ALTER TABLE sheets ADD COLUMN warn_at INTEGER;
ALTER TABLE sheets ADD COLUMN notice_level INTEGER NOT NULL DEFAULT 0;
-- Only sheets with a notice still to send are in the index: a scheduler tick reads due rows only.
CREATE INDEX sheets_warn ON sheets (warn_at) WHERE notice_level < 3 AND state IN ('registered', 'dispatched', 'awaiting_acceptance');

-- The in-app inbox. `dedupe` makes each notice happen once, even with several
-- huiqian processes on one database.
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  community_id INTEGER REFERENCES communities(id),
  sheet_id INTEGER REFERENCES sheets(id),
  kind TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  dedupe TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  read_at INTEGER
) STRICT;
CREATE INDEX notifications_inbox ON notifications (user_id, read_at, created_at);

-- Deliveries to the configured gateway, retried with backoff until accepted.
CREATE TABLE outbox (
  id INTEGER PRIMARY KEY,
  notification_id INTEGER NOT NULL REFERENCES notifications(id),
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  delivered_at INTEGER,
  last_error TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;
