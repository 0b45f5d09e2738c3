-- Free-text search on event titles (`GET /api/v1/events?q=`) is `lower(title) LIKE '%text%'`;
-- a trigram index answers it without reading every upcoming event. pg_trgm ships with
-- PostgreSQL's contrib modules and is on the trusted list, so a database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX events_title_trgm_idx ON events USING gin (lower(title) gin_trgm_ops);
