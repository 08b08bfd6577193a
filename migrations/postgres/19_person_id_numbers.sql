-- One ID number belongs to one person in a company, whichever community they live in.
-- The keyed hash of each number is claimed here in the transaction that records it; a
-- number two persons already share keeps its first (oldest) owner.
CREATE TABLE person_id_numbers (
  company_id BIGINT NOT NULL REFERENCES companies(id),
  id_hash TEXT NOT NULL,
  person_id BIGINT NOT NULL REFERENCES persons(id),
  PRIMARY KEY (company_id, id_hash)
);
CREATE INDEX person_id_numbers_person ON person_id_numbers (person_id);
INSERT INTO person_id_numbers (company_id, id_hash, person_id)
  SELECT c.company_id, p.id_hash, MIN(p.id) FROM persons p JOIN communities c ON c.id = p.community_id
  WHERE p.id_hash IS NOT NULL GROUP BY c.company_id, p.id_hash;
