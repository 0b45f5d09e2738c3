-- Imports of large files, run after the upload is answered (see the PostgreSQL migration).
CREATE TABLE import_jobs (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    dry_run     INTEGER NOT NULL,
    invite      INTEGER NOT NULL,
    status      TEXT NOT NULL,
    result      TEXT,
    content     TEXT,
    created_at  TEXT NOT NULL,
    finished_at TEXT
) STRICT;
CREATE INDEX import_jobs_user_idx ON import_jobs (user_id);
