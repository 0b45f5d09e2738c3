-- Objectives, awards and programme reviews (see the PostgreSQL migration).

-- Medium-term objectives span years; fiscal-year objectives sit under one (or stand alone).
-- An objective is measured (its measures below, graded from the figures; several measures take
-- the lowest grade) or qualitative (achievements text and a grade a person sets, audited).
CREATE TABLE report_objectives (
    id           TEXT PRIMARY KEY,
    level        TEXT NOT NULL CHECK (level IN ('medium_term', 'fiscal_year')),
    parent_id    TEXT REFERENCES report_objectives (id),
    first_year   INTEGER NOT NULL CHECK (first_year BETWEEN 1900 AND 9999),
    last_year    INTEGER NOT NULL CHECK (last_year BETWEEN first_year AND first_year + 10),
    title        TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    assessment   TEXT NOT NULL CHECK (assessment IN ('measured', 'qualitative')),
    achievements TEXT CHECK (length(achievements) <= 2000),
    grade        TEXT CHECK (grade IN ('achieved', 'mostly_achieved', 'some_progress', 'no_progress')),
    graded_by    TEXT REFERENCES users (id),
    graded_at    TEXT,
    created_by   TEXT REFERENCES users (id),
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    CHECK (level = 'medium_term' OR first_year = last_year),
    CHECK (parent_id IS NULL OR level = 'fiscal_year'),
    CHECK (grade IS NULL OR assessment = 'qualitative')
) STRICT;
CREATE INDEX report_objectives_years_idx ON report_objectives (first_year, last_year);
CREATE INDEX report_objectives_parent_idx ON report_objectives (parent_id);

CREATE TABLE objective_measures (
    objective_id TEXT NOT NULL REFERENCES report_objectives (id) ON DELETE CASCADE,
    position     INTEGER NOT NULL CHECK (position >= 0),
    metric       TEXT NOT NULL,
    target_kind  TEXT NOT NULL CHECK (target_kind IN ('absolute', 'yoy_percent')),
    target_value REAL NOT NULL,
    PRIMARY KEY (objective_id, position)
) STRICT;

-- Awards per fiscal year: categories (optionally for domestic or overseas sites only),
-- weighted criteria, the judges, nominations of eligible programmes, scores and winners.
CREATE TABLE award_categories (
    id          TEXT PRIMARY KEY,
    fiscal_year INTEGER NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    region      TEXT CHECK (region IN ('domestic', 'overseas'))
) STRICT;
CREATE INDEX award_categories_year_idx ON award_categories (fiscal_year, position);

CREATE TABLE award_criteria (
    id          TEXT PRIMARY KEY,
    fiscal_year INTEGER NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    position    INTEGER NOT NULL,
    name        TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    weight      INTEGER NOT NULL CHECK (weight BETWEEN 1 AND 100)
) STRICT;
CREATE INDEX award_criteria_year_idx ON award_criteria (fiscal_year, position);

CREATE TABLE award_judges (
    fiscal_year INTEGER NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    user_id     TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (fiscal_year, user_id)
) STRICT;

CREATE TABLE award_nominations (
    id           TEXT PRIMARY KEY,
    category_id  TEXT NOT NULL REFERENCES award_categories (id),
    program_id   TEXT NOT NULL REFERENCES programs (id),
    statement    TEXT NOT NULL CHECK (length(statement) BETWEEN 1 AND 2000),
    nominated_by TEXT REFERENCES users (id),
    created_at   TEXT NOT NULL,
    UNIQUE (category_id, program_id)
) STRICT;

CREATE TABLE award_scores (
    nomination_id TEXT NOT NULL REFERENCES award_nominations (id),
    criterion_id  TEXT NOT NULL REFERENCES award_criteria (id),
    judge_id      TEXT NOT NULL REFERENCES users (id),
    score         INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    scored_at     TEXT NOT NULL,
    PRIMARY KEY (nomination_id, criterion_id, judge_id)
) STRICT;

CREATE TABLE award_winners (
    category_id   TEXT PRIMARY KEY REFERENCES award_categories (id),
    nomination_id TEXT NOT NULL UNIQUE REFERENCES award_nominations (id),
    decided_by    TEXT REFERENCES users (id),
    decided_at    TEXT NOT NULL
) STRICT;

-- Programme reviews: criteria grouped by point of view and theme (the eight of the report's
-- model below; HR may add, rename and retire them), one review per programme and year.
CREATE TABLE review_criteria (
    id            TEXT PRIMARY KEY,
    code          TEXT UNIQUE,
    point_of_view TEXT NOT NULL CHECK (point_of_view IN ('society', 'company')),
    theme         TEXT NOT NULL CHECK (length(theme) BETWEEN 1 AND 100),
    name          TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    position      INTEGER NOT NULL,
    active        INTEGER NOT NULL CHECK (active IN (0, 1))
) STRICT;
INSERT INTO review_criteria (id, code, point_of_view, theme, name, position, active) VALUES
    ('7b0e2f1a-0001-4c6e-9a51-000000000001', 'social_inclusion', 'society', 'Public interest', 'Social inclusion', 1, 1),
    ('7b0e2f1a-0001-4c6e-9a51-000000000002', 'output', 'society', 'Effectiveness', 'Output', 2, 1),
    ('7b0e2f1a-0001-4c6e-9a51-000000000003', 'outcome', 'society', 'Effectiveness', 'Outcome', 3, 1),
    ('7b0e2f1a-0001-4c6e-9a51-000000000004', 'impact', 'society', 'Effectiveness', 'Impact', 4, 1),
    ('7b0e2f1a-0001-4c6e-9a51-000000000005', 'npo_collaboration', 'company', 'Strategy', 'Collaboration with NPOs', 5, 1),
    ('7b0e2f1a-0001-4c6e-9a51-000000000006', 'business', 'company', 'Effectiveness', 'Contribution to business', 6, 1),
    ('7b0e2f1a-0001-4c6e-9a51-000000000007', 'hr_development', 'company', 'Effectiveness', 'Human-resources development', 7, 1),
    ('7b0e2f1a-0001-4c6e-9a51-000000000008', 'corporate_image', 'company', 'Effectiveness', 'Corporate image', 8, 1);

CREATE TABLE program_reviews (
    id          TEXT PRIMARY KEY,
    fiscal_year INTEGER NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    program_id  TEXT NOT NULL REFERENCES programs (id),
    reviewer_id TEXT REFERENCES users (id),
    comments    TEXT NOT NULL CHECK (length(comments) <= 4000),
    reviewed_at TEXT NOT NULL,
    UNIQUE (fiscal_year, program_id)
) STRICT;

CREATE TABLE program_review_scores (
    review_id    TEXT NOT NULL REFERENCES program_reviews (id) ON DELETE CASCADE,
    criterion_id TEXT NOT NULL REFERENCES review_criteria (id),
    score        INTEGER NOT NULL CHECK (score BETWEEN 1 AND 5),
    PRIMARY KEY (review_id, criterion_id)
) STRICT;
