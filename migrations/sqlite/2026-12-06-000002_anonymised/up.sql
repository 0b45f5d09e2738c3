-- A leaver anonymised (see the PostgreSQL migration).
ALTER TABLE users ADD COLUMN anonymised_at TEXT;
