-- Customer service signs for every sheet that comes back (R-SHEET-5), and a suspension
-- hands the sheet back to it (R-SHEET-8: "暂停的会签单应…交回客服部").
ALTER TABLE sheet_handovers DROP CONSTRAINT sheet_handovers_state_check;
ALTER TABLE sheet_handovers ADD CONSTRAINT sheet_handovers_state_check
  CHECK (state IN ('handed_over', 'acknowledged', 'in_progress', 'returned', 'terminated', 'suspended'));
-- Who at customer service signed for it coming back, and when.
ALTER TABLE sheet_handovers ADD COLUMN received_at BIGINT;
ALTER TABLE sheet_handovers ADD COLUMN received_by BIGINT REFERENCES users(id);

-- "At once" for emergencies may be a target of 0 minutes (R-REP-3).
ALTER TABLE request_settings DROP CONSTRAINT request_settings_emergency_min_check;
ALTER TABLE request_settings ADD CONSTRAINT request_settings_emergency_min_check CHECK (emergency_min >= 0);

-- The arrival clock runs from when the technician is told (R-REP-3: "维修工接到通知后"),
-- not from the registration: every repair's due time is recomputed from its assignment,
-- or its appointment, with the community's targets (the manual's while it has none).
UPDATE requests SET arrival_due_at = CASE
    WHEN class = 'appointment' THEN appointment_at
    WHEN assigned_at IS NULL THEN NULL
    ELSE assigned_at + 60000 * COALESCE(
      (SELECT CASE requests.class WHEN 'emergency' THEN s.emergency_min WHEN 'simple' THEN s.simple_min ELSE s.general_min END
       FROM request_settings s WHERE s.community_id = requests.community_id),
      CASE class WHEN 'emergency' THEN 15 WHEN 'simple' THEN 20 ELSE 60 END)
  END
WHERE category IS NOT NULL;
DELETE FROM sheet_timers WHERE name = 'arrival' AND fired_at IS NULL;
INSERT INTO sheet_timers (sheet_id, community_id, name, due_at)
  SELECT sheet_id, community_id, 'arrival', arrival_due_at FROM requests
  WHERE category IS NOT NULL AND closed = 0 AND arrived_at IS NULL AND arrival_due_at IS NOT NULL
  ON CONFLICT (sheet_id, name, due_at) DO NOTHING;

-- A suspended sheet shows why in the desk's lists (R-SHEET-8).
ALTER TABLE sheets ADD COLUMN suspension TEXT NOT NULL DEFAULT '';
UPDATE sheets SET suspension = COALESCE((SELECT (e.data::json)->>'explanation' FROM sheet_events e WHERE e.sheet_id = sheets.id AND e.name = 'suspended'
  ORDER BY e.seq DESC LIMIT 1), '') WHERE state = 'suspended';

-- A retried registration is found by who registered it, not by its first-contact owner:
-- a sheet taken in by security or a technician passes to a receptionist at once (R-SHEET-6).
ALTER TABLE sheets ADD COLUMN registered_by BIGINT REFERENCES users(id);
UPDATE sheets SET registered_by = (SELECT e.by_user_id FROM sheet_events e WHERE e.sheet_id = sheets.id AND e.seq = 1)
  WHERE idempotency_key IS NOT NULL;
DROP INDEX sheets_idempotency;
CREATE UNIQUE INDEX sheets_idempotency ON sheets (registered_by, idempotency_key) WHERE idempotency_key IS NOT NULL;
