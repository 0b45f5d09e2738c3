-- Each sign-up carries its event's times (see the PostgreSQL migration). SQLite adds a NOT NULL
-- column only with a default; every insert sets both, and the rows that exist get theirs here.
ALTER TABLE signups ADD COLUMN starts_at TEXT NOT NULL DEFAULT '';
ALTER TABLE signups ADD COLUMN ends_at TEXT NOT NULL DEFAULT '';
UPDATE signups SET
    starts_at = (SELECT starts_at FROM events WHERE events.id = signups.event_id),
    ends_at = (SELECT ends_at FROM events WHERE events.id = signups.event_id);
CREATE INDEX signups_confirmed_time_idx ON signups (user_id, starts_at) WHERE status = 'confirmed';
