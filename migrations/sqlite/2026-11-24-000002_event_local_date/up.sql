-- The organising site's local date an event starts on (see the PostgreSQL migration). SQLite
-- has no time-zone database, so tomoni fills the column for existing rows right after migrating
-- (db::backfill_event_dates) and writes it with every start or time-zone change.
ALTER TABLE events ADD COLUMN starts_on TEXT;
CREATE INDEX events_starts_on_idx ON events (starts_on);
