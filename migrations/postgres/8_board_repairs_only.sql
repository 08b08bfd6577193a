-- The dispatcher's board lists repairs only: a complaint also has a category (its own
-- words), so the board's index and query key on the arrival class, which only repairs have.
DROP INDEX requests_board;
CREATE INDEX requests_board ON requests (community_id, class_rank, opened_at) WHERE class_rank IS NOT NULL AND technician_id IS NULL AND closed = 0;
