-- Imports of large files run after the upload is answered, and the page polls for them. The
-- row is what every instance can see: who started it, whether it is running, and when done the
-- report or the refusal (and, after a passed check, the file's text for the "Import" form).
-- How far a running import has got is kept by the instance running it.
CREATE TABLE import_jobs (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL,
    dry_run     boolean NOT NULL,
    invite      boolean NOT NULL,
    -- running, done, rejected or failed
    status      text NOT NULL,
    result      text,
    content     text,
    created_at  timestamptz NOT NULL,
    finished_at timestamptz
);
CREATE INDEX import_jobs_user_idx ON import_jobs (user_id);
