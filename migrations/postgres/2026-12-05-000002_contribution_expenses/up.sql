-- The year's social contribution expenses as the report totals them: financial assistance (an
-- amount), product donations (quantity x unit price) and facility use (hours x the unit price
-- of an equivalent outside facility). `amount_yen` is the line's exact value in yen, computed
-- once when it is written; totals are sums of it.
CREATE TABLE contribution_expenses (
    id             uuid PRIMARY KEY,
    fiscal_year    integer NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    kind           text NOT NULL CHECK (kind IN ('financial', 'product', 'facility')),
    area           text NOT NULL CHECK (length(area) BETWEEN 1 AND 64),
    site_id        uuid NOT NULL REFERENCES sites (id),
    description    text NOT NULL CHECK (length(description) BETWEEN 1 AND 500),
    quantity       double precision,
    unit_price_yen bigint,
    amount_yen     bigint NOT NULL CHECK (amount_yen > 0),
    created_by     uuid REFERENCES users (id),
    created_at     timestamptz NOT NULL
);
CREATE INDEX contribution_expenses_year_idx ON contribution_expenses (fiscal_year, id);
