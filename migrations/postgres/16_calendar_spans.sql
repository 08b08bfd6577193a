-- Business hours with several spans a day (08:30–12:00 and 13:30–17:30 around the lunch
-- break), special days with spans of their own, and the State Council's holiday notices.

CREATE TABLE calendar_spans (
  community_id BIGINT NOT NULL REFERENCES communities(id),
  weekday BIGINT NOT NULL CHECK (weekday BETWEEN 0 AND 6),
  start_minute BIGINT NOT NULL CHECK (start_minute BETWEEN 0 AND 1440),
  end_minute BIGINT NOT NULL CHECK (end_minute BETWEEN 0 AND 1440),
  CHECK (start_minute < end_minute),
  PRIMARY KEY (community_id, weekday, start_minute)
);
INSERT INTO calendar_spans (community_id, weekday, start_minute, end_minute)
  SELECT community_id, weekday, start_minute, end_minute FROM calendar_hours WHERE start_minute < end_minute;
-- A community without hours of its own worked Monday to Friday 08:30–17:30; it keeps
-- them (the new default, with the lunch break, is for communities made from now on).
INSERT INTO calendar_spans (community_id, weekday, start_minute, end_minute)
  SELECT c.id, w.d, 510, 1050 FROM communities c, (VALUES (0), (1), (2), (3), (4)) AS w(d)
  WHERE NOT EXISTS (SELECT 1 FROM calendar_hours h WHERE h.community_id = c.id);
DROP TABLE calendar_hours;

-- A special day's own spans ('' = the community's working day); where it came from.
ALTER TABLE calendar_days ADD COLUMN spans TEXT NOT NULL DEFAULT '';
ALTER TABLE calendar_days ADD COLUMN source TEXT NOT NULL DEFAULT 'local' CHECK (source IN ('local', 'statutory'));

-- The State Council's notices (国务院办公厅关于部分节假日安排的通知), one per year, as loaded.
CREATE TABLE holiday_notices (
  year BIGINT PRIMARY KEY,
  title TEXT NOT NULL,
  text TEXT NOT NULL,
  loaded_at BIGINT NOT NULL,
  loaded_by BIGINT REFERENCES users(id)
);
CREATE TABLE holiday_days (
  day TEXT PRIMARY KEY,
  year BIGINT NOT NULL REFERENCES holiday_notices(year),
  kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday')),
  note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX holiday_days_year ON holiday_days (year, day);
-- The notices each community took: a day it later removed stays removed.
CREATE TABLE community_holiday_years (
  community_id BIGINT NOT NULL REFERENCES communities(id),
  year BIGINT NOT NULL REFERENCES holiday_notices(year),
  applied_at BIGINT NOT NULL,
  PRIMARY KEY (community_id, year)
);
