-- The organising site's local date an event starts on. Fiscal years, report months and
-- "the day of the event" are all counted on it; as a column, SQL filters by it on an index.
-- The application writes it with every start or time-zone change.
ALTER TABLE events ADD COLUMN starts_on date;
UPDATE events SET starts_on = (starts_at AT TIME ZONE timezone)::date;
CREATE INDEX events_starts_on_idx ON events (starts_on);
