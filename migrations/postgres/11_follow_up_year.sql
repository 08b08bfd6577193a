-- The year's follow-ups of a community, for the phone cap (R-FU-2): counted by the day
-- each task was created.
CREATE INDEX follow_ups_created ON follow_ups (community_id, created_at);
