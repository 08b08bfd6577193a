-- The requester's phone as typed at registration, sealed like every personal phone
-- (AES-GCM), so that the assigned technician or the desk can call back; each reveal is
-- audited. Sheets keep their masked copy and last four digits for display and search.
ALTER TABLE sheets ADD COLUMN requester_phone_enc TEXT;
