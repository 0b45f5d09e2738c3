-- (SQLite twin of the PostgreSQL migration.) Waitlist length per event, moved in the same guarded updates as `taken`: the events row is
-- the lock that serialises every seat and waitlist change of one event.
ALTER TABLE events ADD COLUMN waitlisted integer NOT NULL DEFAULT 0 CHECK (waitlisted >= 0);
-- The employee event list: published, upcoming, by start time.
CREATE INDEX events_status_start_idx ON events (status, starts_at, id);
