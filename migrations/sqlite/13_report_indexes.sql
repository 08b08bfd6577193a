-- The weekly statistics table (R-CMP-8) in one pass over the weeks' sheets.
--
-- A sheet's building, kept with it: the unit named at registration never changes and a
-- unit never moves to another building, so the building is fixed when the sheet is
-- registered. The table's breakdown by building then needs no join per sheet.
ALTER TABLE sheets ADD COLUMN building_id INTEGER REFERENCES buildings(id);
UPDATE sheets SET building_id = (SELECT u.building_id FROM units u WHERE u.id = sheets.unit_id)
  WHERE unit_id IS NOT NULL;
-- The registration range carries what the table breaks down by, so it reads the index
-- alone (the archive's lists read the same leading columns as before).
DROP INDEX sheets_registered;
CREATE INDEX sheets_registered ON sheets (community_id, registered_at, kind, channel, building_id);
-- The sheets still open, by registration time: "open at the week's end" counts index
-- entries instead of checking every open sheet's row (the same state list as the count).
CREATE INDEX sheets_open_registered ON sheets (community_id, registered_at)
  WHERE state IN ('registered', 'dispatched', 'awaiting_acceptance', 'suspended');
-- Repairs completed in a period (staff performance, R-ROLE-3), by community.
CREATE INDEX requests_completed ON requests (community_id, completed_at) WHERE completed_at IS NOT NULL;
-- The requests opened in the weeks carry what the table breaks them down by (category,
-- validity, flag), so that pass reads the index alone too (the ledgers read the same
-- leading columns as before).
DROP INDEX requests_ledger;
CREATE INDEX requests_ledger ON requests (community_id, kind, opened_at, category, valid, flag);
