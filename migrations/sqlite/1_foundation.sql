-- Foundation: organisation, people, staff and roles, sessions, tokens, audit trail.
-- Instants are epoch milliseconds UTC; civil dates are TEXT 'YYYY-MM-DD'; flags are 0/1.

CREATE TABLE companies (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
) STRICT;

CREATE TABLE communities (
  id INTEGER PRIMARY KEY,
  company_id INTEGER NOT NULL REFERENCES companies(id),
  code TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  timezone TEXT NOT NULL DEFAULT 'Asia/Shanghai',
  address TEXT NOT NULL DEFAULT '',
  phone TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  UNIQUE (company_id, name)
) STRICT;

CREATE TABLE buildings (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  code TEXT NOT NULL,
  name TEXT NOT NULL,
  floors INTEGER NOT NULL DEFAULT 0,
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  UNIQUE (community_id, code)
) STRICT;

CREATE TABLE units (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  building_id INTEGER NOT NULL REFERENCES buildings(id),
  room_no TEXT NOT NULL,
  floor INTEGER NOT NULL,
  area_centi INTEGER NOT NULL CHECK (area_centi > 0),
  status TEXT NOT NULL CHECK (status IN ('vacant', 'occupied', 'renovating')),
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  UNIQUE (community_id, room_no)
) STRICT;
CREATE INDEX units_building ON units (building_id, room_no);

-- Owners, residents, agents. Personal data is stored encrypted (*_enc) with a masked
-- copy for display (*_masked) and a keyed hash for exact lookup (*_hash) (R-ARC-1).
CREATE TABLE persons (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  name TEXT NOT NULL,
  phone_enc TEXT,
  phone_hash TEXT,
  phone_last4 TEXT,
  phone_masked TEXT NOT NULL DEFAULT '',
  id_kind TEXT CHECK (id_kind IN ('resident_id_card', 'passport', 'hk_macao_permit', 'taiwan_permit', 'foreign_permanent_resident', 'other')),
  id_enc TEXT,
  id_hash TEXT,
  id_masked TEXT NOT NULL DEFAULT '',
  employer_enc TEXT,
  employer_masked TEXT NOT NULL DEFAULT '',
  address_enc TEXT,
  address_masked TEXT NOT NULL DEFAULT '',
  note TEXT NOT NULL DEFAULT '',
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX persons_phone_hash ON persons (community_id, phone_hash);
CREATE INDEX persons_id_hash ON persons (community_id, id_hash);
CREATE INDEX persons_last4 ON persons (community_id, phone_last4);
CREATE INDEX persons_name ON persons (community_id, name);

-- Who lives in or answers for a unit: owner, tenant, family member, agent.
CREATE TABLE occupancies (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  unit_id INTEGER NOT NULL REFERENCES units(id),
  person_id INTEGER NOT NULL REFERENCES persons(id),
  relation TEXT NOT NULL CHECK (relation IN ('owner', 'tenant', 'family', 'agent')),
  since TEXT,
  until TEXT,
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE UNIQUE INDEX occupancies_one_active ON occupancies (unit_id, person_id, relation) WHERE active = 1;
CREATE INDEX occupancies_person ON occupancies (person_id);

CREATE TABLE departments (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  kind TEXT NOT NULL CHECK (kind IN ('customer_service', 'engineering', 'security', 'finance', 'cleaning', 'greening', 'administration', 'director_office')),
  name TEXT NOT NULL,
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1,
  UNIQUE (community_id, kind)
) STRICT;

CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL UNIQUE,
  display_name TEXT NOT NULL,
  phone_masked TEXT NOT NULL DEFAULT '',
  phone_enc TEXT,
  password_hash TEXT NOT NULL,
  locale TEXT NOT NULL DEFAULT 'zh-CN' CHECK (locale IN ('zh-CN', 'en')),
  totp_secret_enc TEXT,
  totp_enabled INTEGER NOT NULL DEFAULT 0 CHECK (totp_enabled IN (0, 1)),
  totp_last_step INTEGER NOT NULL DEFAULT 0,
  totp_exempt INTEGER NOT NULL DEFAULT 0 CHECK (totp_exempt IN (0, 1)),
  must_change_password INTEGER NOT NULL DEFAULT 0 CHECK (must_change_password IN (0, 1)),
  failed_logins INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER,
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
) STRICT;

-- A role held by a user in a community (NULL community: company-wide, administrators only).
CREATE TABLE user_roles (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  community_id INTEGER REFERENCES communities(id),
  role TEXT NOT NULL CHECK (role IN ('centre_director', 'cs_manager', 'cs_supervisor', 'building_manager', 'receptionist', 'move_in_receptionist', 'archivist', 'engineering_dispatcher', 'technician', 'security_officer', 'finance_clerk', 'system_admin')),
  department_id INTEGER REFERENCES departments(id),
  created_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX user_roles_unique ON user_roles (user_id, COALESCE(community_id, 0), role);
CREATE INDEX user_roles_community ON user_roles (community_id, role);

-- Sign-in sessions. The id is the SHA-256 of the cookie value, so a leaked table
-- cannot be replayed as cookies.
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  csrf_token TEXT NOT NULL,
  second_factor_done INTEGER NOT NULL DEFAULT 0 CHECK (second_factor_done IN (0, 1)),
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  ip TEXT NOT NULL DEFAULT '',
  user_agent TEXT NOT NULL DEFAULT '',
  ended_at INTEGER,
  end_reason TEXT
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id, ended_at);

CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id),
  name TEXT NOT NULL,
  prefix TEXT NOT NULL,
  token_hash TEXT NOT NULL UNIQUE,
  scopes TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  last_used_at INTEGER,
  revoked_at INTEGER
) STRICT;
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- A retried create returns the first response instead of creating twice.
CREATE TABLE idempotency_keys (
  user_id INTEGER NOT NULL,
  key TEXT NOT NULL,
  status INTEGER NOT NULL,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (user_id, key)
) STRICT;

-- The audit trail (R-SHEET-12): append-only and hash-chained. audit_head holds the
-- last sequence number and hash; every audited write updates it in its transaction,
-- which serialises the chain.
CREATE TABLE audit_log (
  seq INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  actor_user_id INTEGER,
  actor_name TEXT NOT NULL,
  actor_role TEXT NOT NULL DEFAULT '',
  community_id INTEGER,
  action TEXT NOT NULL,
  entity_type TEXT NOT NULL,
  entity_id TEXT NOT NULL,
  changes TEXT NOT NULL,
  authority TEXT NOT NULL DEFAULT '',
  request_id TEXT NOT NULL DEFAULT '',
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
) STRICT;
CREATE INDEX audit_log_community_at ON audit_log (community_id, at);
CREATE INDEX audit_log_entity ON audit_log (entity_type, entity_id);
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, at);

CREATE TABLE audit_head (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
) STRICT;
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
  SELECT RAISE(ABORT, 'audit_log is append-only');
END;
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
  SELECT RAISE(ABORT, 'audit_head cannot be deleted');
END;
