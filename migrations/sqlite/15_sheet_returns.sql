-- Customer service signs for every sheet that comes back (R-SHEET-5), and a suspension
-- hands the sheet back to it (R-SHEET-8: "暂停的会签单应…交回客服部"). SQLite cannot change
-- a CHECK constraint in place: the handover ledger is rebuilt (nothing refers to it).
CREATE TABLE sheet_handovers_new (
  sheet_id INTEGER NOT NULL REFERENCES sheets(id),
  no INTEGER NOT NULL,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  department_id INTEGER NOT NULL REFERENCES departments(id),
  to_user_id INTEGER REFERENCES users(id),
  state TEXT NOT NULL CHECK (state IN ('handed_over', 'acknowledged', 'in_progress', 'returned', 'terminated', 'suspended')),
  opinion TEXT NOT NULL,
  handed_over_at INTEGER NOT NULL,
  handed_over_by INTEGER NOT NULL REFERENCES users(id),
  acknowledged_at INTEGER,
  acknowledged_by INTEGER REFERENCES users(id),
  returned_at INTEGER,
  returned_by INTEGER REFERENCES users(id),
  result TEXT NOT NULL DEFAULT '',
  signer TEXT NOT NULL DEFAULT '',
  -- Who at customer service signed for it coming back, and when.
  received_at INTEGER,
  received_by INTEGER REFERENCES users(id),
  PRIMARY KEY (sheet_id, no)
) STRICT;
INSERT INTO sheet_handovers_new (sheet_id, no, community_id, department_id, to_user_id, state, opinion,
    handed_over_at, handed_over_by, acknowledged_at, acknowledged_by, returned_at, returned_by, result, signer)
  SELECT sheet_id, no, community_id, department_id, to_user_id, state, opinion,
    handed_over_at, handed_over_by, acknowledged_at, acknowledged_by, returned_at, returned_by, result, signer
  FROM sheet_handovers;
DROP TABLE sheet_handovers;
ALTER TABLE sheet_handovers_new RENAME TO sheet_handovers;
CREATE INDEX sheet_handovers_department ON sheet_handovers (department_id, state, handed_over_at);
CREATE INDEX sheet_handovers_ledger ON sheet_handovers (community_id, handed_over_at);

-- "At once" for emergencies may be a target of 0 minutes (R-REP-3): the rules are rebuilt
-- to allow it (nothing refers to them).
CREATE TABLE request_settings_new (
  community_id INTEGER PRIMARY KEY REFERENCES communities(id),
  emergency_min INTEGER NOT NULL CHECK (emergency_min >= 0),
  simple_min INTEGER NOT NULL CHECK (simple_min > 0),
  general_min INTEGER NOT NULL CHECK (general_min > 0),
  slip_hours INTEGER NOT NULL CHECK (slip_hours > 0),
  repeat_count INTEGER NOT NULL CHECK (repeat_count > 0),
  repeat_days INTEGER NOT NULL CHECK (repeat_days > 0),
  progress_hours INTEGER NOT NULL CHECK (progress_hours > 0),
  promise_warn_min INTEGER NOT NULL CHECK (promise_warn_min >= 0),
  apology TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
) STRICT;
INSERT INTO request_settings_new SELECT * FROM request_settings;
DROP TABLE request_settings;
ALTER TABLE request_settings_new RENAME TO request_settings;

-- The arrival clock runs from when the technician is told (R-REP-3: "维修工接到通知后"),
-- not from the registration: every repair's due time is recomputed from its assignment,
-- or its appointment, with the community's targets (the manual's while it has none).
UPDATE requests SET arrival_due_at = CASE
    WHEN class = 'appointment' THEN appointment_at
    WHEN assigned_at IS NULL THEN NULL
    ELSE assigned_at + 60000 * COALESCE(
      (SELECT CASE requests.class WHEN 'emergency' THEN s.emergency_min WHEN 'simple' THEN s.simple_min ELSE s.general_min END
       FROM request_settings s WHERE s.community_id = requests.community_id),
      CASE class WHEN 'emergency' THEN 15 WHEN 'simple' THEN 20 ELSE 60 END)
  END
WHERE category IS NOT NULL;
DELETE FROM sheet_timers WHERE name = 'arrival' AND fired_at IS NULL;
INSERT INTO sheet_timers (sheet_id, community_id, name, due_at)
  SELECT sheet_id, community_id, 'arrival', arrival_due_at FROM requests
  WHERE category IS NOT NULL AND closed = 0 AND arrived_at IS NULL AND arrival_due_at IS NOT NULL
  ON CONFLICT (sheet_id, name, due_at) DO NOTHING;

-- A suspended sheet shows why in the desk's lists (R-SHEET-8).
ALTER TABLE sheets ADD COLUMN suspension TEXT NOT NULL DEFAULT '';
UPDATE sheets SET suspension = COALESCE((SELECT json_extract(e.data, '$.explanation') FROM sheet_events e WHERE e.sheet_id = sheets.id AND e.name = 'suspended'
  ORDER BY e.seq DESC LIMIT 1), '') WHERE state = 'suspended';

-- A retried registration is found by who registered it, not by its first-contact owner:
-- a sheet taken in by security or a technician passes to a receptionist at once (R-SHEET-6).
ALTER TABLE sheets ADD COLUMN registered_by INTEGER REFERENCES users(id);
UPDATE sheets SET registered_by = (SELECT e.by_user_id FROM sheet_events e WHERE e.sheet_id = sheets.id AND e.seq = 1)
  WHERE idempotency_key IS NOT NULL;
DROP INDEX sheets_idempotency;
CREATE UNIQUE INDEX sheets_idempotency ON sheets (registered_by, idempotency_key) WHERE idempotency_key IS NOT NULL;
