-- Programme statistics kept as summaries, updated in the same transaction as every change that
-- affects them (src/stats/rollup.rs), so the annual-report figures never scan raw attendance.
-- Only approved, attended records count. Fiscal years are computed with the start month recorded
-- in stats_meta; a different configured month rebuilds these tables at start-up.
--
-- Report scopes: 'all', 's:<site>', 'c:<company>', 'r:<region>'. Breakdown scopes add
-- 't:<theme>', 'g:<category>', 'm:<month>'.

-- The additive figures per fiscal year and report scope: a report reads a handful of rows.
CREATE TABLE stats_year (
    fiscal_year      INTEGER NOT NULL,
    scope            TEXT NOT NULL,
    participants     INTEGER NOT NULL CHECK (participants >= 0),
    minutes          INTEGER NOT NULL,
    days             INTEGER NOT NULL,
    biodiversity     INTEGER NOT NULL,
    disaster_relief  INTEGER NOT NULL,
    PRIMARY KEY (fiscal_year, scope)
) STRICT;

-- Participants, minutes and person-days per programme and site-local month (breakdowns).
CREATE TABLE stats_program_month (
    fiscal_year   INTEGER NOT NULL,
    month         INTEGER NOT NULL CHECK (month BETWEEN 1 AND 12),
    program_id    TEXT NOT NULL REFERENCES programs (id),
    site_id       TEXT NOT NULL REFERENCES sites (id),
    participants  INTEGER NOT NULL CHECK (participants >= 0),
    minutes       INTEGER NOT NULL,
    days          INTEGER NOT NULL,
    PRIMARY KEY (fiscal_year, month, program_id)
) STRICT;
CREATE INDEX stats_program_month_site_idx ON stats_program_month (site_id, fiscal_year);

-- Distinct counts: which employees (scope as above), programmes ('programs/<scope>') and sites
-- ('sites/<scope>') count in a fiscal year, with how many records each. stats_unique holds the
-- number of members per scope, kept as members come and go.
CREATE TABLE stats_members (
    fiscal_year  INTEGER NOT NULL,
    scope        TEXT NOT NULL,
    member_id    TEXT NOT NULL,
    records      INTEGER NOT NULL CHECK (records >= 0),
    PRIMARY KEY (fiscal_year, scope, member_id)
) STRICT;

CREATE TABLE stats_unique (
    fiscal_year  INTEGER NOT NULL,
    scope        TEXT NOT NULL,
    members      INTEGER NOT NULL CHECK (members >= 0),
    PRIMARY KEY (fiscal_year, scope)
) STRICT;

CREATE TABLE stats_meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) STRICT;
-- The month the summaries were computed with (the configured default until start-up says else).
INSERT INTO stats_meta (key, value) VALUES ('fiscal_year_start_month', '4');
