-- Single-use links that let a person set a password: an invitation (a new account) or a reset
-- ("forgot password"). The secret is minted when the mail is composed and only its hash is
-- kept, so neither this table nor the outbox holds a usable link.
CREATE TABLE password_links (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text NOT NULL CHECK (purpose IN ('invitation', 'reset')),
    -- NULL until the mail carrying it is composed
    token_hash  text UNIQUE,
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX password_links_user_idx ON password_links (user_id);
