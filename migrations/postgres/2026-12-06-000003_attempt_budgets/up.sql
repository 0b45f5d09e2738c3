-- Sign-in and password-reset attempt budgets shared by every instance on this database (GCRA:
-- per key, the instant in microseconds since the epoch by which its budget is whole again).
-- SQLite runs one instance and keeps them in memory; the table exists there too, unused.
CREATE TABLE attempt_budgets (
    key        text PRIMARY KEY,
    full_at_us bigint NOT NULL
);
