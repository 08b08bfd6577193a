-- The weekly statistics table (R-CMP-8) in one pass over the weeks' sheets.
--
-- A sheet's building, kept with it: the unit named at registration never changes and a
-- unit never moves to another building, so the building is fixed when the sheet is
-- registered. The table's breakdown by building then needs no join per sheet.
ALTER TABLE sheets ADD COLUMN building_id BIGINT REFERENCES buildings(id);
UPDATE sheets s SET building_id = u.building_id FROM units u WHERE u.id = s.unit_id;
-- The registration range carries what the table breaks down by, so it reads the index
-- alone (the archive's lists read the same leading columns as before).
DROP INDEX sheets_registered;
CREATE INDEX sheets_registered ON sheets (community_id, registered_at) INCLUDE (kind, channel, building_id);
-- The sheets still open, by registration time: "open at the week's end" counts index
-- entries instead of checking every open sheet's row (the same state list as the count).
CREATE INDEX sheets_open_registered ON sheets (community_id, registered_at)
  WHERE state IN ('registered', 'dispatched', 'awaiting_acceptance', 'suspended');
-- Repairs completed in a period (staff performance, R-ROLE-3), by community.
CREATE INDEX requests_completed ON requests (community_id, completed_at) WHERE completed_at IS NOT NULL;
-- A sheet's first contact and deadline by its id, read from the index alone: staff
-- performance looks them up for every follow-up and every returned handover of the
-- period, and a year of them touched more heap pages than the shared buffers hold.
-- (SQLite reads a sheet by its rowid as cheaply as any index, so it has no such index.)
CREATE INDEX sheets_owner ON sheets (id) INCLUDE (first_contact_id, due_at);
-- The requests opened in the weeks carry what the table breaks them down by (category,
-- validity, flag), so that pass reads the index alone too (the ledgers read the same
-- leading columns as before).
DROP INDEX requests_ledger;
CREATE INDEX requests_ledger ON requests (community_id, kind, opened_at) INCLUDE (category, valid, flag);
