-- The dispatcher's board lists repairs only: a complaint also has a category (its own
-- words), so the board's index and query key on the arrival class, which only repairs
-- have. The index holds the board's whole order, so a page is read in order and the
-- read stops at the page's end.
DROP INDEX requests_board;
CREATE INDEX requests_board ON requests (community_id, class_rank, opened_at, sheet_id) WHERE class_rank IS NOT NULL AND technician_id IS NULL AND closed = 0;
