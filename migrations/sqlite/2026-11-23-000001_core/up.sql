-- tomoni core schema (SQLite). The PostgreSQL twin in migrations/postgres/ must mean the same:
-- same tables, columns, keys, uniques and checks. Enumerations are TEXT + CHECK on both backends
-- so that adding a value is the same one-line migration everywhere.

CREATE TABLE companies (
    id          TEXT PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    country     text NOT NULL CHECK (length(country) = 2 AND country = upper(country)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;

CREATE TABLE sites (
    id          TEXT PRIMARY KEY,
    code        text NOT NULL UNIQUE CHECK (length(code) BETWEEN 1 AND 32),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    company_id  TEXT NOT NULL REFERENCES companies (id),
    country     text NOT NULL CHECK (length(country) = 2 AND country = upper(country)),
    region      text NOT NULL CHECK (region IN ('domestic', 'overseas')),
    timezone    text NOT NULL CHECK (length(timezone) BETWEEN 1 AND 64),
    opened_on   TEXT NOT NULL CHECK (date(opened_on) IS opened_on),
    closed_on   TEXT CHECK (closed_on IS NULL OR (date(closed_on) IS closed_on AND closed_on >= opened_on)),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
) STRICT;
CREATE INDEX sites_company_idx ON sites (company_id);

CREATE TABLE partners (
    id             TEXT PRIMARY KEY,
    name           text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),
    kind           text NOT NULL CHECK (kind IN ('npo', 'ngo', 'municipality', 'school', 'other')),
    country        text CHECK (country IS NULL OR (length(country) = 2 AND country = upper(country))),
    website        text,
    contact_email  text,
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
) STRICT;

CREATE TABLE users (
    id                    TEXT PRIMARY KEY,
    employee_number       text NOT NULL UNIQUE CHECK (length(employee_number) BETWEEN 1 AND 64),
    -- stored lower-cased so that uniqueness is case-insensitive on both backends
    email                 text NOT NULL UNIQUE CHECK (email = lower(email) AND email LIKE '%_@_%'),
    display_name          text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 200),
    site_id               TEXT REFERENCES sites (id),
    role                  text NOT NULL CHECK (role IN ('employee', 'coordinator', 'hr', 'admin')),
    active                INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    locale                text NOT NULL DEFAULT 'en' CHECK (locale IN ('en', 'ja')),
    -- NULL for accounts that only sign in through the identity provider
    password_hash         text,
    -- hash of the secret in the personal calendar feed URL
    calendar_token_hash   text UNIQUE,
    created_at            TEXT NOT NULL,
    updated_at            TEXT NOT NULL
) STRICT;
CREATE INDEX users_site_idx ON users (site_id);

CREATE TABLE coordinator_sites (
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site_id     TEXT NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (user_id, site_id)
) STRICT;
CREATE INDEX coordinator_sites_site_idx ON coordinator_sites (site_id);

-- Programme categories are data, not a CHECK list: the annual report adds lines over the years.
CREATE TABLE categories (
    code   text PRIMARY KEY CHECK (length(code) BETWEEN 1 AND 32 AND code = lower(code)),
    label  text NOT NULL
) STRICT;
INSERT INTO categories (code, label) VALUES
    ('biodiversity', 'Biodiversity'),
    ('disaster_relief', 'Disaster relief'),
    ('accessibility', 'Accessibility'),
    ('youth', 'Youth'),
    ('elderly', 'Elderly care'),
    ('health', 'Health'),
    ('culture', 'Culture');

CREATE TABLE programs (
    id           TEXT PRIMARY KEY,
    site_id      TEXT NOT NULL REFERENCES sites (id),
    code         text NOT NULL CHECK (length(code) BETWEEN 1 AND 64),
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description  text NOT NULL DEFAULT '',
    theme        text NOT NULL CHECK (theme IN ('nature', 'education', 'community')),
    partner_id   TEXT REFERENCES partners (id),
    status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'archived')),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    UNIQUE (site_id, code)
) STRICT;

CREATE TABLE program_categories (
    program_id  TEXT NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    category    text NOT NULL REFERENCES categories (code),
    PRIMARY KEY (program_id, category)
) STRICT;
CREATE INDEX program_categories_category_idx ON program_categories (category);

CREATE TABLE events (
    id                TEXT PRIMARY KEY,
    program_id        TEXT NOT NULL REFERENCES programs (id),
    title             text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    description       text NOT NULL DEFAULT '',
    starts_at         TEXT NOT NULL,
    ends_at           TEXT NOT NULL,
    -- IANA zone the event is held in; defaults to the organising site's zone
    timezone          text NOT NULL CHECK (length(timezone) BETWEEN 1 AND 64),
    location          text NOT NULL DEFAULT '',
    -- NULL = unlimited
    capacity          integer CHECK (capacity IS NULL OR capacity >= 1),
    -- confirmed seats; moved only by the guarded UPDATE in the sign-up transaction
    taken             integer NOT NULL DEFAULT 0 CHECK (taken >= 0),
    waitlist_enabled  INTEGER NOT NULL DEFAULT 1 CHECK (waitlist_enabled IN (0, 1)),
    signup_deadline   TEXT,
    cancel_deadline   TEXT,
    status            text NOT NULL DEFAULT 'draft'
                      CHECK (status IN ('draft', 'published', 'cancelled', 'completed')),
    check_in_code     text,
    created_by        TEXT REFERENCES users (id),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    CHECK (ends_at > starts_at),
    CHECK (capacity IS NULL OR taken <= capacity),
    CHECK (signup_deadline IS NULL OR signup_deadline <= starts_at),
    CHECK (cancel_deadline IS NULL OR cancel_deadline <= starts_at)
) STRICT;
CREATE INDEX events_program_idx ON events (program_id);
CREATE INDEX events_start_idx ON events (starts_at, id);

CREATE TABLE signups (
    id                 TEXT PRIMARY KEY,
    event_id           TEXT NOT NULL REFERENCES events (id),
    user_id            TEXT NOT NULL REFERENCES users (id),
    status             text NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled')),
    waitlist_position  integer,
    -- a coordinator overrode the overlap rule
    forced             INTEGER NOT NULL DEFAULT 0 CHECK (forced IN (0, 1)),
    created_by         TEXT NOT NULL REFERENCES users (id),
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    cancelled_at       TEXT,
    cancelled_by       TEXT REFERENCES users (id),
    CHECK ((status = 'waitlisted' AND waitlist_position IS NOT NULL AND waitlist_position >= 1)
        OR (status <> 'waitlisted' AND waitlist_position IS NULL)),
    CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL))
) STRICT;
-- one live sign-up per employee and event
CREATE UNIQUE INDEX signups_live_uq ON signups (event_id, user_id) WHERE status <> 'cancelled';
CREATE INDEX signups_user_idx ON signups (user_id, created_at);
CREATE INDEX signups_event_idx ON signups (event_id, status, waitlist_position);

CREATE TABLE attendance (
    id                TEXT PRIMARY KEY,
    event_id          TEXT NOT NULL REFERENCES events (id),
    user_id           TEXT NOT NULL REFERENCES users (id),
    signup_id         TEXT REFERENCES signups (id),
    status            text NOT NULL CHECK (status IN ('attended', 'no_show')),
    minutes           integer NOT NULL DEFAULT 0 CHECK (minutes >= 0),
    -- person-days
    days              integer NOT NULL DEFAULT 0 CHECK (days >= 0),
    source            text NOT NULL CHECK (source IN ('roster', 'check_in', 'import')),
    approval          text NOT NULL DEFAULT 'pending' CHECK (approval IN ('pending', 'approved', 'rejected')),
    approved_by       TEXT REFERENCES users (id),
    approved_at       TEXT,
    rejection_reason  text,
    recorded_by       TEXT REFERENCES users (id),
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    UNIQUE (event_id, user_id),
    CHECK (status <> 'attended' OR minutes > 0),
    CHECK (status <> 'no_show' OR (minutes = 0 AND days = 0)),
    CHECK ((approval = 'pending') = (approved_at IS NULL))
) STRICT;
CREATE INDEX attendance_user_idx ON attendance (user_id);
CREATE INDEX attendance_approval_idx ON attendance (approval, event_id);

CREATE TABLE objectives (
    fiscal_year   integer NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    metric        text NOT NULL CHECK (length(metric) BETWEEN 1 AND 64),
    target_kind   text NOT NULL CHECK (target_kind IN ('absolute', 'yoy_percent')),
    target_value  REAL NOT NULL,
    updated_by    TEXT REFERENCES users (id),
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (fiscal_year, metric)
) STRICT;

-- Every email, written in the same transaction as the change that caused it.
CREATE TABLE outbox (
    id               TEXT PRIMARY KEY,
    kind             text NOT NULL,
    -- makes each enqueue idempotent (e.g. 'reminder:<signup id>:<event start>')
    dedupe_key       text NOT NULL UNIQUE,
    user_id          TEXT REFERENCES users (id),
    to_address       text NOT NULL,
    locale           text NOT NULL DEFAULT 'en',
    -- JSON: what the template needs
    payload          text NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sending', 'sent', 'dead', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at  TEXT NOT NULL,
    locked_until     TEXT,
    last_error       text,
    sent_at          TEXT,
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
) STRICT;
CREATE INDEX outbox_due_idx ON outbox (status, next_attempt_at);

CREATE TABLE audit_log (
    id           TEXT PRIMARY KEY,
    occurred_at  TEXT NOT NULL,
    actor_id     TEXT REFERENCES users (id),
    action       text NOT NULL,
    entity_type  text NOT NULL,
    entity_id    text,
    -- JSON: before/after, filters and row counts of exports, purpose
    details      text NOT NULL DEFAULT '{}',
    request_id   text
) STRICT;
CREATE INDEX audit_log_entity_idx ON audit_log (entity_type, entity_id);
CREATE INDEX audit_log_time_idx ON audit_log (occurred_at, id);

-- Replayed responses for retried creates, scoped to the caller.
CREATE TABLE idempotency_keys (
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key            text NOT NULL CHECK (length(key) BETWEEN 1 AND 255),
    method         text NOT NULL,
    path           text NOT NULL,
    request_hash   text NOT NULL,
    -- NULL while the first request is still running
    status_code    integer,
    response_body  text,
    created_at     TEXT NOT NULL,
    expires_at     TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
) STRICT;
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

CREATE TABLE refresh_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- all tokens descending from one login; re-use of a rotated token revokes the family
    family_id    TEXT NOT NULL,
    token_hash   text NOT NULL UNIQUE,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    rotated_at   TEXT,
    revoked_at   TEXT
) STRICT;
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user_idx ON refresh_tokens (user_id);
