DROP INDEX IF EXISTS events_title_trgm_idx;
