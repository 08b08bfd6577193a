-- The signature pad's keyboard alternative: a signer who cannot draw types their name and
-- confirms it. The image is still stored (the name as typed, drawn by the browser), and
-- the row says it was typed, so the sheet, its print and its audit show it as such.
ALTER TABLE attachments ADD COLUMN typed INTEGER NOT NULL DEFAULT 0 CHECK (typed IN (0, 1));
