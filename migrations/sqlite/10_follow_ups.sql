-- Follow-up visits (R-FU-1 … R-FU-5) and corrective actions (R-FU-4).

-- The rules of a community's follow-ups: the sampled rates (complaints, suggestions and
-- requested follow-ups are always 100%), the time limit, the phone cap and what to do
-- at it, and the key of the sampling draw (created with the row, never changed, so every
-- draw can be recomputed).
CREATE TABLE follow_up_settings (
  community_id INTEGER PRIMARY KEY REFERENCES communities(id),
  repair_rate INTEGER NOT NULL DEFAULT 30 CHECK (repair_rate BETWEEN 0 AND 100),
  special_service_rate INTEGER NOT NULL DEFAULT 30 CHECK (special_service_rate BETWEEN 0 AND 100),
  delivery_rate INTEGER NOT NULL DEFAULT 10 CHECK (delivery_rate BETWEEN 0 AND 100),
  event_rate INTEGER NOT NULL DEFAULT 10 CHECK (event_rate BETWEEN 0 AND 100),
  due_hours INTEGER NOT NULL DEFAULT 72 CHECK (due_hours BETWEEN 1 AND 720),
  phone_cap_pct INTEGER NOT NULL DEFAULT 70 CHECK (phone_cap_pct BETWEEN 0 AND 100),
  cap_mode TEXT NOT NULL DEFAULT 'refuse' CHECK (cap_mode IN ('refuse', 'warn')),
  sampling_key TEXT NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
) STRICT;

-- Every collected sheet that could be followed up, decided once: its reason, its place
-- in the month, the rate, the draw, the decision and its cause (R-FU-1). The auditor's
-- record that nothing was chosen by hand.
CREATE TABLE follow_up_decisions (
  sheet_id INTEGER PRIMARY KEY REFERENCES sheets(id),
  community_id INTEGER NOT NULL REFERENCES communities(id),
  reason TEXT NOT NULL,
  period TEXT NOT NULL,
  seq INTEGER NOT NULL,
  rate INTEGER NOT NULL,
  draw INTEGER NOT NULL,
  selected INTEGER NOT NULL CHECK (selected IN (0, 1)),
  cause TEXT NOT NULL CHECK (cause IN ('always', 'drawn', 'floor', 'not_drawn')),
  decided_at INTEGER NOT NULL,
  UNIQUE (community_id, reason, period, seq)
) STRICT;

-- The month so far per reason: the decisions' counters, updated in the deciding
-- transaction so two collections at once are counted one after the other.
CREATE TABLE follow_up_tallies (
  community_id INTEGER NOT NULL REFERENCES communities(id),
  reason TEXT NOT NULL,
  period TEXT NOT NULL,
  collected INTEGER NOT NULL,
  selected INTEGER NOT NULL,
  PRIMARY KEY (community_id, reason, period)
) STRICT;

-- The follow-up task gains its record, its review and a version (SQLite cannot change a
-- CHECK constraint in place: the table is rebuilt; nothing refers to it yet).
CREATE TABLE follow_ups_new (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  sheet_id INTEGER NOT NULL REFERENCES sheets(id),
  reason TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'reviewed')),
  due_at INTEGER NOT NULL,
  assigned_to INTEGER REFERENCES users(id),
  created_at INTEGER NOT NULL,
  method TEXT CHECK (method IN ('visit', 'inspection', 'phone')),
  outcome TEXT CHECK (outcome IN ('satisfied', 'unsatisfied', 'unreachable')),
  content TEXT NOT NULL DEFAULT '',
  contacted_at INTEGER,
  signer TEXT NOT NULL DEFAULT '',
  signature_id INTEGER REFERENCES attachments(id),
  over_cap INTEGER NOT NULL DEFAULT 0 CHECK (over_cap IN (0, 1)),
  recorded_by INTEGER REFERENCES users(id),
  recorded_at INTEGER,
  remarks TEXT NOT NULL DEFAULT '',
  reviewed_by INTEGER REFERENCES users(id),
  reviewed_at INTEGER,
  overdue_notified_at INTEGER,
  version INTEGER NOT NULL DEFAULT 1,
  UNIQUE (sheet_id, reason)
) STRICT;
INSERT INTO follow_ups_new (id, community_id, sheet_id, reason, state, due_at, assigned_to, created_at)
  SELECT id, community_id, sheet_id, reason, CASE WHEN state = 'pending' THEN 'pending' ELSE 'done' END,
         due_at, assigned_to, created_at FROM follow_ups;
DROP TABLE follow_ups;
ALTER TABLE follow_ups_new RENAME TO follow_ups;
CREATE INDEX follow_ups_pending ON follow_ups (community_id, due_at) WHERE state = 'pending';
CREATE INDEX follow_ups_assignee ON follow_ups (assigned_to, due_at) WHERE state = 'pending';
CREATE INDEX follow_ups_recorded ON follow_ups (community_id, recorded_at) WHERE recorded_at IS NOT NULL;
CREATE INDEX follow_ups_review ON follow_ups (community_id, recorded_at) WHERE state = 'done';

-- Nonconformity / corrective and preventive action reports (R-FU-4): one per
-- unsatisfied or failed follow-up.
CREATE TABLE capas (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  follow_up_id INTEGER NOT NULL UNIQUE REFERENCES follow_ups(id),
  sheet_id INTEGER NOT NULL REFERENCES sheets(id),
  nonconformity TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'planned', 'implemented', 'verified')),
  cause TEXT NOT NULL DEFAULT '',
  action TEXT NOT NULL DEFAULT '',
  responsible_id INTEGER REFERENCES users(id),
  due_at INTEGER,
  planned_by INTEGER REFERENCES users(id),
  planned_at INTEGER,
  rounds INTEGER NOT NULL DEFAULT 0,
  implemented_note TEXT NOT NULL DEFAULT '',
  implemented_by INTEGER REFERENCES users(id),
  implemented_at INTEGER,
  verify_note TEXT NOT NULL DEFAULT '',
  verified_by INTEGER REFERENCES users(id),
  verified_at INTEGER,
  created_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX capas_open ON capas (community_id, created_at) WHERE state <> 'verified';
CREATE INDEX capas_responsible ON capas (responsible_id) WHERE state = 'planned';
