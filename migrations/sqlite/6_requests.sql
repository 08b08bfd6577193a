-- The flows on a sheet (R-RECV, R-REP, R-CMP): `requests` is the projection of each
-- sheet's flow part for the dispatcher's board, the technician's day, the ledgers and
-- the rules that count (repeat complaints); sheet_events stays the record.
CREATE TABLE requests (
  sheet_id INTEGER PRIMARY KEY REFERENCES sheets(id),
  community_id INTEGER NOT NULL REFERENCES communities(id),
  kind TEXT NOT NULL,
  unit_id INTEGER REFERENCES units(id),
  opened_at INTEGER NOT NULL,
  closed INTEGER NOT NULL DEFAULT 0 CHECK (closed IN (0, 1)),
  -- repairs (R-REP-1 … R-REP-5)
  category TEXT,
  class TEXT CHECK (class IN ('emergency', 'simple', 'general', 'appointment')),
  class_rank INTEGER,
  source TEXT CHECK (source IN ('desk', 'security', 'technician')),
  technician_id INTEGER REFERENCES users(id),
  assigned_at INTEGER,
  appointment_at INTEGER,
  arrival_due_at INTEGER,
  arrived_at INTEGER,
  completed_at INTEGER,
  slip_due_at INTEGER,
  slip_returned_at INTEGER,
  charge_fen INTEGER,
  charge_state TEXT NOT NULL DEFAULT 'none' CHECK (charge_state IN ('none', 'quoted', 'confirmed')),
  -- complaints (R-CMP-1 … R-CMP-7)
  against TEXT,
  against_department_id INTEGER REFERENCES departments(id),
  valid INTEGER CHECK (valid IN (0, 1)),
  route TEXT CHECK (route IN ('department', 'developer')),
  routed_department_id INTEGER REFERENCES departments(id),
  deadline_at INTEGER,
  flag TEXT CHECK (flag IN ('serious', 'repeat')),
  solution_at INTEGER,
  progress_count INTEGER NOT NULL DEFAULT 0,
  last_progress_at INTEGER,
  -- inquiries (R-RECV-2)
  promised_by_at INTEGER,
  answered_at INTEGER,
  escalated_to INTEGER REFERENCES users(id),
  -- suggestions (R-RECV-3)
  analysed_at INTEGER,
  to_director INTEGER NOT NULL DEFAULT 0 CHECK (to_director IN (0, 1)),
  replied_at INTEGER,
  replied_by INTEGER REFERENCES users(id),
  updated_at INTEGER NOT NULL
) STRICT;
-- The dispatcher's board: open repairs nobody is assigned to, most urgent and oldest first.
CREATE INDEX requests_board ON requests (community_id, class_rank, opened_at) WHERE category IS NOT NULL AND technician_id IS NULL AND closed = 0;
-- A technician's open jobs (and their load on the board), soonest due first.
CREATE INDEX requests_tech_open ON requests (technician_id, arrival_due_at) WHERE technician_id IS NOT NULL AND completed_at IS NULL AND closed = 0;
CREATE INDEX requests_tech_done ON requests (technician_id, completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX requests_ledger ON requests (community_id, kind, opened_at);
-- Repeat complaints: the same unit and category within a window (R-CMP-5).
CREATE INDEX requests_repeat ON requests (unit_id, category, opened_at) WHERE kind = 'complaint';
CREATE INDEX requests_promises ON requests (community_id, promised_by_at) WHERE promised_by_at IS NOT NULL AND answered_at IS NULL;

-- Timed reminders of the flows (arrival, repair slip, promised reply, complaint progress
-- and deadline): recomputed at every event, each sent once.
CREATE TABLE sheet_timers (
  id INTEGER PRIMARY KEY,
  sheet_id INTEGER NOT NULL REFERENCES sheets(id),
  community_id INTEGER NOT NULL REFERENCES communities(id),
  name TEXT NOT NULL,
  due_at INTEGER NOT NULL,
  fired_at INTEGER,
  UNIQUE (sheet_id, name, due_at)
) STRICT;
CREATE INDEX sheet_timers_due ON sheet_timers (due_at) WHERE fired_at IS NULL;

-- Per-community rules of the flows.
CREATE TABLE request_settings (
  community_id INTEGER PRIMARY KEY REFERENCES communities(id),
  emergency_min INTEGER NOT NULL CHECK (emergency_min > 0),
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

-- The community's price list for paid work (R-REP-4).
CREATE TABLE price_items (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  name TEXT NOT NULL,
  unit TEXT NOT NULL,
  item_kind TEXT NOT NULL CHECK (item_kind IN ('labour', 'material')),
  price_fen INTEGER NOT NULL CHECK (price_fen >= 0),
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  UNIQUE (community_id, name)
) STRICT;

-- Answers and regulations the desk cites (R-RECV-2).
CREATE TABLE kb_articles (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  title TEXT NOT NULL,
  answer TEXT NOT NULL,
  basis TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_by INTEGER NOT NULL REFERENCES users(id),
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX kb_articles_community ON kb_articles (community_id, active);

-- Follow-up tasks a collected sheet calls for (R-CMP-7; R-FU-1 decides the others).
CREATE TABLE follow_ups (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  sheet_id INTEGER NOT NULL REFERENCES sheets(id),
  reason TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'cancelled')),
  due_at INTEGER NOT NULL,
  assigned_to INTEGER REFERENCES users(id),
  created_at INTEGER NOT NULL,
  UNIQUE (sheet_id, reason)
) STRICT;
CREATE INDEX follow_ups_pending ON follow_ups (community_id, due_at) WHERE state = 'pending';
