DROP INDEX stats_unique_scope_idx;
DROP INDEX stats_year_scope_idx;
