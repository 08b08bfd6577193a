-- Quick registrations (常用登记): a community's frequent requests — a dripping tap, a
-- blocked drain, where to collect a parcel — that fill the registration form in one tap.
CREATE TABLE sheet_presets (
  id INTEGER PRIMARY KEY,
  community_id INTEGER NOT NULL REFERENCES communities(id),
  title TEXT NOT NULL,
  kind TEXT NOT NULL,
  -- Empty: the form keeps the channel it has.
  channel TEXT NOT NULL DEFAULT '',
  reason TEXT NOT NULL,
  repair_category TEXT NOT NULL DEFAULT '',
  -- An inquiry's answer from the knowledge base.
  article_id INTEGER REFERENCES kb_articles(id),
  ordinal INTEGER NOT NULL DEFAULT 0,
  active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
  created_by INTEGER NOT NULL REFERENCES users(id),
  updated_at INTEGER NOT NULL,
  version INTEGER NOT NULL DEFAULT 1
) STRICT;
CREATE INDEX sheet_presets_community ON sheet_presets (community_id, active, ordinal);
