-- Signed-in browsers. The cookie holds a random secret; only its SHA-256 is kept, so a copy of
-- this table signs nobody in. A row ends with sign-out, deactivation, a password change or its
-- expiry; ended rows stay until the next sign-in of the user sweeps them.
CREATE TABLE web_sessions (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    secret_hash text NOT NULL UNIQUE,
    -- sent back in every form and htmx request of the session
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    ended_at    timestamptz
);
CREATE INDEX web_sessions_user_idx ON web_sessions (user_id);
