-- The report cycle: closed fiscal years, their published versions and restatements (see the
-- PostgreSQL migration).
CREATE TABLE fiscal_year_closes (
    fiscal_year INTEGER PRIMARY KEY CHECK (fiscal_year BETWEEN 1900 AND 9999),
    closed_at   TEXT NOT NULL,
    closed_by   TEXT REFERENCES users (id)
) STRICT;

CREATE TABLE published_figures (
    fiscal_year  INTEGER NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    version      INTEGER NOT NULL CHECK (version >= 1),
    published_at TEXT NOT NULL,
    published_by TEXT REFERENCES users (id),
    note         TEXT NOT NULL,
    figures      TEXT NOT NULL,
    body         TEXT NOT NULL,
    PRIMARY KEY (fiscal_year, version)
) STRICT;

CREATE TABLE restatements (
    id          TEXT PRIMARY KEY,
    fiscal_year INTEGER NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    reason      TEXT NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    recorded_at TEXT NOT NULL,
    recorded_by TEXT REFERENCES users (id),
    version     INTEGER
) STRICT;
CREATE INDEX restatements_year_idx ON restatements (fiscal_year, version);
