-- Social contribution expenses (see the PostgreSQL migration).
CREATE TABLE contribution_expenses (
    id             TEXT PRIMARY KEY,
    fiscal_year    INTEGER NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    kind           TEXT NOT NULL CHECK (kind IN ('financial', 'product', 'facility')),
    area           TEXT NOT NULL CHECK (length(area) BETWEEN 1 AND 64),
    site_id        TEXT NOT NULL REFERENCES sites (id),
    description    TEXT NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    quantity       REAL,
    unit_price_yen INTEGER,
    amount_yen     INTEGER NOT NULL CHECK (amount_yen > 0),
    created_by     TEXT REFERENCES users (id),
    created_at     TEXT NOT NULL
) STRICT;
CREATE INDEX contribution_expenses_year_idx ON contribution_expenses (fiscal_year, id);
