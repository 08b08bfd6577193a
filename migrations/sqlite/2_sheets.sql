-- Countersign sheets (R-SHEET-1 … R-SHEET-12): the sheet row is a projection for
-- queues and searches; sheet_events is the record (append-only, like the audit trail).

-- Gap-free numbering per community and year (R-SHEET-2): drawn inside the registering
-- transaction, so a rolled-back registration gives its number back.
CREATE TABLE sheet_counters (
  community_id INTEGER NOT NULL REFERENCES communities(id),
  year INTEGER NOT NULL,
  last_seq INTEGER NOT NULL,
  PRIMARY KEY (community_id, year)
) STRICT;

CREATE TABLE sheets (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  number TEXT NOT NULL,
  year INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('repair', 'complaint', 'situation_report', 'special_service', 'inquiry', 'suggestion', 'other')),
  channel TEXT NOT NULL CHECK (channel IN ('visit', 'phone', 'letter', 'other')),
  state TEXT NOT NULL CHECK (state IN ('registered', 'dispatched', 'awaiting_acceptance', 'suspended', 'collected', 'archived')),
  unit_id INTEGER REFERENCES units(id),
  person_id INTEGER REFERENCES persons(id),
  requester_name TEXT NOT NULL,
  requester_phone_masked TEXT NOT NULL DEFAULT '',
  requester_phone_last4 TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL,
  first_contact_id INTEGER NOT NULL REFERENCES users(id),
  signature_pending INTEGER NOT NULL CHECK (signature_pending IN (0, 1)),
  outcome TEXT CHECK (outcome IN ('terminated', 'beyond_centre')),
  registered_at INTEGER NOT NULL,
  dispatched_at INTEGER,
  collected_at INTEGER,
  archived_at INTEGER,
  -- The collection clock, recomputed at every event (R-SHEET-7).
  due_at INTEGER,
  clock_state TEXT NOT NULL DEFAULT 'not_started',
  idempotency_key TEXT,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  UNIQUE (community_id, number),
  UNIQUE (community_id, year, seq)
) STRICT;
CREATE INDEX sheets_queue ON sheets (community_id, state, due_at);
CREATE INDEX sheets_first_contact ON sheets (first_contact_id, state, due_at);
CREATE INDEX sheets_unit ON sheets (unit_id, registered_at);
CREATE INDEX sheets_registered ON sheets (community_id, registered_at);
CREATE INDEX sheets_signature ON sheets (community_id, signature_pending, registered_at);
CREATE INDEX sheets_last4 ON sheets (community_id, requester_phone_last4);
CREATE UNIQUE INDEX sheets_idempotency ON sheets (first_contact_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE sheet_events (
  id INTEGER PRIMARY KEY,
  sheet_id INTEGER NOT NULL REFERENCES sheets(id),
  seq INTEGER NOT NULL,
  at INTEGER NOT NULL,
  by_user_id INTEGER NOT NULL REFERENCES users(id),
  by_role TEXT NOT NULL,
  name TEXT NOT NULL,
  data TEXT NOT NULL,
  UNIQUE (sheet_id, seq)
) STRICT;
CREATE TRIGGER sheet_events_no_update BEFORE UPDATE ON sheet_events
BEGIN
  SELECT RAISE(ABORT, 'sheet_events is append-only');
END;
CREATE TRIGGER sheet_events_no_delete BEFORE DELETE ON sheet_events
BEGIN
  SELECT RAISE(ABORT, 'sheet_events is append-only');
END;

-- The handover ledger (会签单交接记录本, R-SHEET-4): one row per handover.
CREATE TABLE sheet_handovers (
  sheet_id INTEGER NOT NULL REFERENCES sheets(id),
  no INTEGER NOT NULL,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  department_id INTEGER NOT NULL REFERENCES departments(id),
  to_user_id INTEGER REFERENCES users(id),
  state TEXT NOT NULL CHECK (state IN ('handed_over', 'acknowledged', 'in_progress', 'returned', 'terminated')),
  opinion TEXT NOT NULL,
  handed_over_at INTEGER NOT NULL,
  handed_over_by INTEGER NOT NULL REFERENCES users(id),
  acknowledged_at INTEGER,
  acknowledged_by INTEGER REFERENCES users(id),
  returned_at INTEGER,
  returned_by INTEGER REFERENCES users(id),
  result TEXT NOT NULL DEFAULT '',
  signer TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (sheet_id, no)
) STRICT;
CREATE INDEX sheet_handovers_department ON sheet_handovers (department_id, state, handed_over_at);
CREATE INDEX sheet_handovers_ledger ON sheet_handovers (community_id, handed_over_at);

-- Photos, files and signature images, stored content-addressed beside the database.
CREATE TABLE attachments (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  sheet_id INTEGER REFERENCES sheets(id),
  purpose TEXT NOT NULL CHECK (purpose IN ('photo', 'file', 'signature', 'evidence')),
  sha256 TEXT NOT NULL,
  size INTEGER NOT NULL,
  mime TEXT NOT NULL,
  filename TEXT NOT NULL,
  signer TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  created_by INTEGER NOT NULL REFERENCES users(id)
) STRICT;
CREATE INDEX attachments_sheet ON attachments (sheet_id);

-- The head of a department signs extensions, suspensions and terminations (R-SHEET-8).
ALTER TABLE user_roles ADD COLUMN is_head INTEGER NOT NULL DEFAULT 0 CHECK (is_head IN (0, 1));
