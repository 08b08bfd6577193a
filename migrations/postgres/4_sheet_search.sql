-- Words of sheets for the archive search: character pairs of Chinese text and Latin or
-- digit words (see huiqian_domain::sheet::search). Ordered by sheet id, which follows
-- registration, so the newest matches come first without sorting all of them.
CREATE TABLE sheet_terms (
  community_id BIGINT NOT NULL REFERENCES communities(id),
  term TEXT NOT NULL,
  sheet_id BIGINT NOT NULL REFERENCES sheets(id),
  PRIMARY KEY (community_id, term, sheet_id)
);
