-- A resident who could not be reached is tried again, an attempt with its own time limit
-- (not a corrective action, R-FU-4); the person a complaint is about never follows it up
-- (R-FU-1, R-CMP-7); the phone cap is a hard limit (R-FU-2: "不得超过").

-- Each failed attempt, as recorded; the task itself then waits for the next one.
CREATE TABLE follow_up_attempts (
  id INTEGER PRIMARY KEY,
  follow_up_id INTEGER NOT NULL REFERENCES follow_ups(id),
  community_id INTEGER NOT NULL REFERENCES communities(id),
  attempt INTEGER NOT NULL,
  method TEXT NOT NULL CHECK (method IN ('visit', 'inspection', 'phone')),
  content TEXT NOT NULL,
  contacted_at INTEGER NOT NULL,
  due_at INTEGER NOT NULL,
  recorded_by INTEGER NOT NULL REFERENCES users(id),
  recorded_at INTEGER NOT NULL,
  UNIQUE (follow_up_id, attempt)
) STRICT;
-- The attempt a task is on, why it went to whom, and who may not take it.
ALTER TABLE follow_ups ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE follow_ups ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE follow_ups ADD COLUMN excluded_user_id INTEGER REFERENCES users(id);
ALTER TABLE follow_up_settings ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts BETWEEN 1 AND 10);
UPDATE follow_up_settings SET cap_mode = 'refuse';
