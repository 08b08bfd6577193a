-- A technician's open jobs are read on every board and every day view: their number and
-- today's appointments (the board's technician column), the late ones (not arrived, target
-- passed) and the day's list. With the arrival, the appointment, the community and the
-- sheet id (which PostgreSQL needs for an index-only scan) in the index, the counts and the
-- late list are answered from the index alone; only the rows shown are looked up. The
-- index holds open assigned jobs only, a few per technician.
DROP INDEX requests_tech_open;
CREATE INDEX requests_tech_open ON requests (technician_id, arrival_due_at, arrived_at, appointment_at, community_id, sheet_id) WHERE technician_id IS NOT NULL AND completed_at IS NULL AND closed = 0;
