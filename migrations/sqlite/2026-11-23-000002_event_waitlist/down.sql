DROP INDEX events_status_start_idx;
ALTER TABLE events DROP COLUMN waitlisted;
