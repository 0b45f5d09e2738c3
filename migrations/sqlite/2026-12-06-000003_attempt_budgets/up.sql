-- Attempt budgets (see the PostgreSQL migration; unused on SQLite, which keeps them in memory).
CREATE TABLE attempt_budgets (
    key        TEXT PRIMARY KEY,
    full_at_us INTEGER NOT NULL
) STRICT;
