-- The chase queue (R-SHEET-9) lists a community's sheets out with departments or awaiting
-- acceptance, soonest due first. Only those sheets are in this index, in the queue's
-- order, so a page of the queue reads its rows and no others however large the archive.
CREATE INDEX sheets_chase ON sheets (community_id, due_at, id) WHERE state IN ('dispatched', 'awaiting_acceptance', 'suspended');
