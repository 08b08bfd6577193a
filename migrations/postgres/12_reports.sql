-- Reports (R-CMP-8, R-ROLE-3): the weekly statistics kept as generated, and the
-- indexes the reports' time ranges read.
CREATE TABLE weekly_reports (
  community_id BIGINT NOT NULL REFERENCES communities(id),
  -- Monday of the week in the community's zone, YYYY-MM-DD.
  week_start TEXT NOT NULL,
  data TEXT NOT NULL,
  generated_at BIGINT NOT NULL,
  PRIMARY KEY (community_id, week_start)
);
CREATE INDEX sheets_collected ON sheets (community_id, collected_at) WHERE collected_at IS NOT NULL;
CREATE INDEX requests_arrived ON requests (community_id, arrived_at) WHERE arrived_at IS NOT NULL;
CREATE INDEX follow_ups_recorder ON follow_ups (recorded_by, recorded_at) WHERE recorded_at IS NOT NULL;
