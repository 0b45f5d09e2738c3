DROP INDEX signups_confirmed_time_idx;
ALTER TABLE signups DROP COLUMN ends_at;
ALTER TABLE signups DROP COLUMN starts_at;
