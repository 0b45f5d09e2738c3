-- Every statistics read asks for one scope over a span of years ("all" for 2017-2026). The
-- primary keys lead with the year, so that read walked every scope of each year: at ten years
-- (27,000 unique-count rows) the planner chose a sequential scan and the read took ~2 ms of
-- the report's ~3.5 ms (BENCHMARKS.md). Scope first makes it a range of a few rows.
CREATE INDEX stats_year_scope_idx ON stats_year (scope, fiscal_year);
CREATE INDEX stats_unique_scope_idx ON stats_unique (scope, fiscal_year);
