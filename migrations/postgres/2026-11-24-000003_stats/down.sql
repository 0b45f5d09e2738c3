DROP TABLE stats_meta;
DROP TABLE stats_unique;
DROP TABLE stats_members;
DROP TABLE stats_program_month;
DROP TABLE stats_year;
