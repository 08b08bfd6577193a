-- Key custody (钥匙管理, R-KEY-1 … R-KEY-8, R-MOV-6, R-DUTY-3).

-- A community's rules for its keys.
CREATE TABLE key_settings (
  community_id INTEGER PRIMARY KEY REFERENCES communities(id),
  -- Someone other than the owner takes an owner's key only after a recorded phone call
  -- with the owner (R-KEY-5, "if needed").
  phone_confirmation INTEGER NOT NULL DEFAULT 1 CHECK (phone_confirmation IN (0, 1)),
  -- The hour (community time) by which the day's count is due (R-KEY-8).
  count_due_hour INTEGER NOT NULL DEFAULT 22 CHECK (count_due_hour BETWEEN 0 AND 23),
  updated_at INTEGER NOT NULL,
  updated_by INTEGER REFERENCES users(id),
  version INTEGER NOT NULL DEFAULT 1
) STRICT;

-- A key cabinet; its own key is kept by one person (R-KEY-2) and it is sealed after
-- hours (R-KEY-7).
CREATE TABLE key_cabinets (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  name TEXT NOT NULL,
  location TEXT NOT NULL DEFAULT '',
  keeper_id INTEGER REFERENCES users(id),
  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'sealed', 'night_open')),
  seal_no TEXT NOT NULL DEFAULT '',
  state_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  created_by INTEGER NOT NULL REFERENCES users(id),
  version INTEGER NOT NULL DEFAULT 1,
  UNIQUE (community_id, name)
) STRICT;

-- A key set: a tag on a hook, the unit or room it opens, how many keys, why we hold it.
CREATE TABLE key_sets (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  cabinet_id INTEGER NOT NULL REFERENCES key_cabinets(id),
  tag TEXT NOT NULL,
  hook TEXT NOT NULL DEFAULT '',
  unit_id INTEGER REFERENCES units(id),
  -- What it opens, as people say it (the unit's room number, or 3号楼天台).
  room TEXT NOT NULL,
  special TEXT NOT NULL DEFAULT '' CHECK (special IN ('', 'plant', 'roof', 'power', 'gas', 'other')),
  basis TEXT NOT NULL CHECK (basis IN ('custody_agreement', 'vacant_unit', 'public_room')),
  state TEXT NOT NULL DEFAULT 'held' CHECK (state IN ('held', 'lost', 'released')),
  total INTEGER NOT NULL DEFAULT 0 CHECK (total >= 0),
  out_qty INTEGER NOT NULL DEFAULT 0 CHECK (out_qty >= 0 AND out_qty <= total),
  note TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  created_by INTEGER NOT NULL REFERENCES users(id),
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  UNIQUE (community_id, tag)
) STRICT;
CREATE INDEX key_sets_cabinet ON key_sets (cabinet_id, tag);
CREATE INDEX key_sets_unit ON key_sets (unit_id);

-- Keys delivered (R-KEY-1): who brought them, from which department, when, how many,
-- their signature; the receiver is the member of staff who recorded it.
CREATE TABLE key_receipts (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  key_set_id INTEGER NOT NULL REFERENCES key_sets(id),
  deliverer_name TEXT NOT NULL,
  deliverer_department TEXT NOT NULL,
  delivered_at INTEGER NOT NULL,
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  signature_id INTEGER NOT NULL REFERENCES attachments(id),
  received_by INTEGER NOT NULL REFERENCES users(id),
  note TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX key_receipts_set ON key_receipts (key_set_id, id);
CREATE INDEX key_receipts_community ON key_receipts (community_id, delivered_at);

-- A custody agreement (R-MOV-6): the owner leaves a key during renovation; it says from
-- when to when, for which work staff may take it, and whom else the owner authorises.
CREATE TABLE key_agreements (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  key_set_id INTEGER NOT NULL REFERENCES key_sets(id),
  owner_name TEXT NOT NULL,
  starts_at INTEGER NOT NULL,
  ends_at INTEGER NOT NULL,
  -- Comma-separated reason codes (repair, inspection, renovation, emergency, other_work).
  scope TEXT NOT NULL,
  signature_id INTEGER NOT NULL REFERENCES attachments(id),
  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'ended')),
  created_by INTEGER NOT NULL REFERENCES users(id),
  created_at INTEGER NOT NULL,
  ended_by INTEGER REFERENCES users(id),
  ended_at INTEGER,
  version INTEGER NOT NULL DEFAULT 1,
  CHECK (ends_at > starts_at)
) STRICT;
CREATE INDEX key_agreements_set ON key_agreements (key_set_id, state);

-- The people an agreement authorises to take the key; their phone sealed (R-ARC-1).
CREATE TABLE key_agreement_people (
  id INTEGER PRIMARY KEY,
  agreement_id INTEGER NOT NULL REFERENCES key_agreements(id),
  name TEXT NOT NULL,
  relation TEXT NOT NULL DEFAULT '',
  phone_enc TEXT,
  phone_masked TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX key_agreement_people_agreement ON key_agreement_people (agreement_id);

-- A department manager's approval of a special room's sign-out, asked for and given
-- before the key leaves (R-KEY-6); used by exactly one sign-out.
CREATE TABLE key_approvals (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  key_set_id INTEGER NOT NULL REFERENCES key_sets(id),
  requested_by INTEGER NOT NULL REFERENCES users(id),
  reason TEXT NOT NULL,
  sheet_id INTEGER REFERENCES sheets(id),
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'refused', 'used', 'expired')),
  decided_by INTEGER REFERENCES users(id),
  decided_at INTEGER,
  note TEXT NOT NULL DEFAULT '',
  expires_at INTEGER,
  created_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX key_approvals_community ON key_approvals (community_id, state, id);
CREATE INDEX key_approvals_set ON key_approvals (key_set_id, state);

-- A sign-out and its return (R-KEY-3 … R-KEY-6).
CREATE TABLE key_loans (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  key_set_id INTEGER NOT NULL REFERENCES key_sets(id),
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  returned INTEGER NOT NULL DEFAULT 0 CHECK (returned >= 0 AND returned <= quantity),
  lost INTEGER NOT NULL DEFAULT 0 CHECK (lost >= 0),
  reason_kind TEXT NOT NULL CHECK (reason_kind IN ('repair', 'inspection', 'renovation', 'emergency', 'other_work')),
  reason TEXT NOT NULL,
  sheet_id INTEGER REFERENCES sheets(id),
  taker_kind TEXT NOT NULL CHECK (taker_kind IN ('staff', 'owner', 'other')),
  taker_user_id INTEGER REFERENCES users(id),
  taker_name TEXT NOT NULL,
  taker_phone_enc TEXT,
  taker_phone_masked TEXT NOT NULL DEFAULT '',
  authorisation TEXT NOT NULL DEFAULT '' CHECK (authorisation IN ('', 'agreement', 'letter', 'recorded')),
  agreement_id INTEGER REFERENCES key_agreements(id),
  agreement_person_id INTEGER REFERENCES key_agreement_people(id),
  letter_id INTEGER REFERENCES attachments(id),
  authorisation_note TEXT NOT NULL DEFAULT '',
  -- The phone call with the owner (R-KEY-5): who called, when, the number (masked).
  phone_confirmed_by INTEGER REFERENCES users(id),
  phone_confirmed_at INTEGER,
  phone_confirmed_number TEXT NOT NULL DEFAULT '',
  approval_id INTEGER REFERENCES key_approvals(id),
  taker_signature_id INTEGER NOT NULL REFERENCES attachments(id),
  issued_by INTEGER NOT NULL REFERENCES users(id),
  issued_at INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  closed_at INTEGER,
  version INTEGER NOT NULL DEFAULT 1
) STRICT;
-- At most one open sign-out of a key set, whatever the code does (R-KEY-3).
CREATE UNIQUE INDEX key_loans_one_open ON key_loans (key_set_id) WHERE closed_at IS NULL;
CREATE INDEX key_loans_due ON key_loans (community_id, due_at) WHERE closed_at IS NULL;
CREATE INDEX key_loans_issued ON key_loans (community_id, issued_at);
CREATE INDEX key_loans_set ON key_loans (key_set_id, issued_at);
CREATE INDEX key_loans_sheet ON key_loans (sheet_id) WHERE sheet_id IS NOT NULL;

CREATE TABLE key_returns (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  loan_id INTEGER NOT NULL REFERENCES key_loans(id),
  quantity INTEGER NOT NULL CHECK (quantity > 0),
  returner_name TEXT NOT NULL,
  signature_id INTEGER NOT NULL REFERENCES attachments(id),
  received_by INTEGER NOT NULL REFERENCES users(id),
  returned_at INTEGER NOT NULL
) STRICT;
CREATE INDEX key_returns_loan ON key_returns (loan_id, id);

-- The cabinet's seal, its night openings and its morning openings (R-KEY-7).
CREATE TABLE key_cabinet_log (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  cabinet_id INTEGER NOT NULL REFERENCES key_cabinets(id),
  step TEXT NOT NULL CHECK (step IN ('sealed', 'opened_at_night', 'opened_in_morning')),
  seal_no TEXT NOT NULL DEFAULT '',
  seal_intact INTEGER CHECK (seal_intact IN (0, 1)),
  first_user INTEGER NOT NULL REFERENCES users(id),
  second_user INTEGER REFERENCES users(id),
  reason TEXT NOT NULL DEFAULT '',
  at INTEGER NOT NULL
) STRICT;
CREATE INDEX key_cabinet_log_cabinet ON key_cabinet_log (cabinet_id, at);

-- The daily blind count (R-KEY-8) and what was counted on each hook.
CREATE TABLE key_counts (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  cabinet_id INTEGER NOT NULL REFERENCES key_cabinets(id),
  -- The community's calendar day counted, YYYY-MM-DD.
  day TEXT NOT NULL,
  counted_by INTEGER NOT NULL REFERENCES users(id),
  counted_at INTEGER NOT NULL,
  lines INTEGER NOT NULL,
  differences INTEGER NOT NULL
) STRICT;
CREATE INDEX key_counts_cabinet ON key_counts (cabinet_id, day);
CREATE INDEX key_counts_community ON key_counts (community_id, day);

CREATE TABLE key_count_lines (
  count_id INTEGER NOT NULL REFERENCES key_counts(id),
  key_set_id INTEGER NOT NULL REFERENCES key_sets(id),
  expected INTEGER NOT NULL,
  counted INTEGER NOT NULL,
  PRIMARY KEY (count_id, key_set_id)
) STRICT;

-- What the count, an overdue sign-out or a seal found: reported and resolved, never
-- edited away (R-KEY-8).
CREATE TABLE key_incidents (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  cabinet_id INTEGER NOT NULL REFERENCES key_cabinets(id),
  key_set_id INTEGER REFERENCES key_sets(id),
  kind TEXT NOT NULL CHECK (kind IN ('count_difference', 'overdue', 'seal_broken')),
  count_id INTEGER REFERENCES key_counts(id),
  loan_id INTEGER REFERENCES key_loans(id),
  expected INTEGER,
  counted INTEGER,
  detail TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'reported', 'resolved')),
  -- Empty when the scheduler opened it.
  opened_by INTEGER REFERENCES users(id),
  opened_at INTEGER NOT NULL,
  report TEXT NOT NULL DEFAULT '',
  reported_by INTEGER REFERENCES users(id),
  reported_at INTEGER,
  resolution TEXT NOT NULL DEFAULT '' CHECK (resolution IN ('', 'found', 'lost', 'explained')),
  resolution_note TEXT NOT NULL DEFAULT '',
  lost_qty INTEGER NOT NULL DEFAULT 0,
  resolved_by INTEGER REFERENCES users(id),
  resolved_at INTEGER,
  version INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX key_incidents_community ON key_incidents (community_id, state, id);
CREATE INDEX key_incidents_set ON key_incidents (key_set_id, state);
-- One overdue incident per sign-out: the scheduler and the count may both find it.
CREATE UNIQUE INDEX key_incidents_overdue ON key_incidents (loan_id) WHERE kind = 'overdue';

-- A vacant unit's inspections (R-DUTY-3): when, by whom, the condition found.
CREATE TABLE unit_inspections (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  unit_id INTEGER NOT NULL REFERENCES units(id),
  inspected_at INTEGER NOT NULL,
  inspected_by INTEGER NOT NULL REFERENCES users(id),
  condition TEXT NOT NULL CHECK (condition IN ('good', 'attention')),
  note TEXT NOT NULL DEFAULT '',
  loan_id INTEGER REFERENCES key_loans(id)
) STRICT;
CREATE INDEX unit_inspections_unit ON unit_inspections (unit_id, inspected_at);
