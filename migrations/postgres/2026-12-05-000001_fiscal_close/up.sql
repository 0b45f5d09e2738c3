-- The report cycle: a fiscal year closed by HR is frozen as published figures. Each published
-- version is a JSON document of every figure of the year (the whole group's table, the
-- breakdowns, the objectives and their grades); a later correction of the year's records is a
-- restatement with a reason, and "restate" publishes the next version with the reasons
-- gathered since. Versions are never changed or deleted; reopening a year (an admin act) only
-- removes its close row.
CREATE TABLE fiscal_year_closes (
    fiscal_year integer PRIMARY KEY CHECK (fiscal_year BETWEEN 1900 AND 9999),
    closed_at   timestamptz NOT NULL,
    closed_by   uuid REFERENCES users (id)
);

CREATE TABLE published_figures (
    fiscal_year  integer NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    version      integer NOT NULL CHECK (version >= 1),
    published_at timestamptz NOT NULL,
    published_by uuid REFERENCES users (id),
    -- why this version was published (the close, or the restatement's summary)
    note         text NOT NULL,
    -- the whole group's figures alone (what the report table reads on every request, without
    -- parsing the breakdowns), and the whole document
    figures      text NOT NULL,
    body         text NOT NULL,
    PRIMARY KEY (fiscal_year, version)
);

-- A change to a closed year's records, with its reason; `version` is the published version
-- that took it in (null until the year is restated).
CREATE TABLE restatements (
    id          uuid PRIMARY KEY,
    fiscal_year integer NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    reason      text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    recorded_at timestamptz NOT NULL,
    recorded_by uuid REFERENCES users (id),
    version     integer
);
CREATE INDEX restatements_year_idx ON restatements (fiscal_year, version);
