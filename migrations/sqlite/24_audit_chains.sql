-- The audit trail is chained per community (ADR 2): each community's entries link to one
-- another, and entries of no community to chain 0. A write locks only its own chain's
-- head, so the communities' writes no longer wait on one another. Entries written before
-- this are chain 0, their place in it their seq (chain_seq stays empty: the table is
-- append-only and is not rewritten); chain 0 goes on from its last entry.
CREATE TABLE audit_chains (
  chain INTEGER PRIMARY KEY,
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL
);
INSERT INTO audit_chains (chain, seq, hash) SELECT 0, seq, hash FROM audit_head WHERE id = 1;
DROP TABLE audit_head;
CREATE TRIGGER audit_chains_no_delete BEFORE DELETE ON audit_chains
BEGIN
  SELECT RAISE(ABORT, 'audit_chains cannot be deleted');
END;
ALTER TABLE audit_log ADD COLUMN chain INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_log ADD COLUMN chain_seq INTEGER;
CREATE UNIQUE INDEX audit_log_chain_place ON audit_log (chain, chain_seq);
-- SQLite numbers a row left without seq after the largest one (INTEGER PRIMARY KEY).
