-- A cabinet's key sets by state, in tag order: its count form reads the held ones in order
-- and the register counts each cabinet's held key sets from the index alone, without a
-- row per key set (the key benchmark, docs/benchmarks.md "Key custody").
DROP INDEX key_sets_cabinet;
CREATE INDEX key_sets_cabinet ON key_sets (cabinet_id, state, tag);
