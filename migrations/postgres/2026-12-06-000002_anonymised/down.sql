ALTER TABLE users DROP COLUMN anonymised_at;
