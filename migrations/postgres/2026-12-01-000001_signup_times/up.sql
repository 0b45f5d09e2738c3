-- Each sign-up carries its event's times, so the overlap check at sign-up reads only the
-- employee's confirmed sign-ups that start near the new event (an index range on
-- (user_id, starts_at)), however many sign-ups they have made over the years. Kept equal to the
-- event's times by the event's plan change (programs::events::write_plan).
ALTER TABLE signups ADD COLUMN starts_at timestamptz;
ALTER TABLE signups ADD COLUMN ends_at timestamptz;
UPDATE signups s SET starts_at = e.starts_at, ends_at = e.ends_at FROM events e WHERE e.id = s.event_id;
ALTER TABLE signups ALTER COLUMN starts_at SET NOT NULL, ALTER COLUMN ends_at SET NOT NULL;
CREATE INDEX signups_confirmed_time_idx ON signups (user_id, starts_at) WHERE status = 'confirmed';
