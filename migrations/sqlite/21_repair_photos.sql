-- A repair's photos before and after the work (taken by the technician on the day page)
-- are photos, marked with the stage they show. A column rather than new purposes: SQLite
-- cannot change the purpose CHECK in place, and the table is referred to by follow-ups.
ALTER TABLE attachments ADD COLUMN stage TEXT NOT NULL DEFAULT '' CHECK (stage IN ('', 'before', 'after'));
