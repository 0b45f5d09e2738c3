DROP INDEX IF EXISTS events_starts_on_idx;
ALTER TABLE events DROP COLUMN starts_on;
