-- The rest of the annual report's section (issue 20): objectives as the report writes them,
-- the awards, and the yearly programme reviews.

-- Medium-term objectives span years; fiscal-year objectives sit under one (or stand alone).
-- An objective is measured (its measures below, graded from the figures; several measures take
-- the lowest grade) or qualitative (achievements text and a grade a person sets, audited).
CREATE TABLE report_objectives (
    id           uuid PRIMARY KEY,
    level        text NOT NULL CHECK (level IN ('medium_term', 'fiscal_year')),
    parent_id    uuid REFERENCES report_objectives (id),
    first_year   integer NOT NULL CHECK (first_year BETWEEN 1900 AND 9999),
    last_year    integer NOT NULL CHECK (last_year BETWEEN first_year AND first_year + 10),
    title        text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
    assessment   text NOT NULL CHECK (assessment IN ('measured', 'qualitative')),
    achievements text CHECK (length(achievements) <= 2000),
    grade        text CHECK (grade IN ('achieved', 'mostly_achieved', 'some_progress', 'no_progress')),
    graded_by    uuid REFERENCES users (id),
    graded_at    timestamptz,
    created_by   uuid REFERENCES users (id),
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CHECK (level = 'medium_term' OR first_year = last_year),
    CHECK (parent_id IS NULL OR level = 'fiscal_year'),
    CHECK (grade IS NULL OR assessment = 'qualitative')
);
CREATE INDEX report_objectives_years_idx ON report_objectives (first_year, last_year);
CREATE INDEX report_objectives_parent_idx ON report_objectives (parent_id);

CREATE TABLE objective_measures (
    objective_id uuid NOT NULL REFERENCES report_objectives (id) ON DELETE CASCADE,
    position     integer NOT NULL CHECK (position >= 0),
    metric       text NOT NULL,
    target_kind  text NOT NULL CHECK (target_kind IN ('absolute', 'yoy_percent')),
    target_value double precision NOT NULL,
    PRIMARY KEY (objective_id, position)
);

-- Awards per fiscal year: categories (optionally for domestic or overseas sites only),
-- weighted criteria, the judges, nominations of eligible programmes, scores and winners.
CREATE TABLE award_categories (
    id          uuid PRIMARY KEY,
    fiscal_year integer NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    position    integer NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    region      text CHECK (region IN ('domestic', 'overseas'))
);
CREATE INDEX award_categories_year_idx ON award_categories (fiscal_year, position);

CREATE TABLE award_criteria (
    id          uuid PRIMARY KEY,
    fiscal_year integer NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    position    integer NOT NULL,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    weight      integer NOT NULL CHECK (weight BETWEEN 1 AND 100)
);
CREATE INDEX award_criteria_year_idx ON award_criteria (fiscal_year, position);

CREATE TABLE award_judges (
    fiscal_year integer NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    user_id     uuid NOT NULL REFERENCES users (id),
    PRIMARY KEY (fiscal_year, user_id)
);

CREATE TABLE award_nominations (
    id           uuid PRIMARY KEY,
    category_id  uuid NOT NULL REFERENCES award_categories (id),
    program_id   uuid NOT NULL REFERENCES programs (id),
    statement    text NOT NULL CHECK (length(statement) BETWEEN 1 AND 2000),
    nominated_by uuid REFERENCES users (id),
    created_at   timestamptz NOT NULL,
    UNIQUE (category_id, program_id)
);

CREATE TABLE award_scores (
    nomination_id uuid NOT NULL REFERENCES award_nominations (id),
    criterion_id  uuid NOT NULL REFERENCES award_criteria (id),
    judge_id      uuid NOT NULL REFERENCES users (id),
    score         integer NOT NULL CHECK (score BETWEEN 1 AND 5),
    scored_at     timestamptz NOT NULL,
    PRIMARY KEY (nomination_id, criterion_id, judge_id)
);

CREATE TABLE award_winners (
    category_id   uuid PRIMARY KEY REFERENCES award_categories (id),
    nomination_id uuid NOT NULL UNIQUE REFERENCES award_nominations (id),
    decided_by    uuid REFERENCES users (id),
    decided_at    timestamptz NOT NULL
);

-- Programme reviews: criteria grouped by point of view and theme (the eight of the report's
-- model below; HR may add, rename and retire them), one review per programme and year.
CREATE TABLE review_criteria (
    id            uuid PRIMARY KEY,
    code          text UNIQUE,
    point_of_view text NOT NULL CHECK (point_of_view IN ('society', 'company')),
    theme         text NOT NULL CHECK (length(theme) BETWEEN 1 AND 100),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    position      integer NOT NULL,
    active        boolean NOT NULL
);
INSERT INTO review_criteria (id, code, point_of_view, theme, name, position, active) VALUES
    ('7b0e2f1a-0001-4c6e-9a51-000000000001', 'social_inclusion', 'society', 'Public interest', 'Social inclusion', 1, true),
    ('7b0e2f1a-0001-4c6e-9a51-000000000002', 'output', 'society', 'Effectiveness', 'Output', 2, true),
    ('7b0e2f1a-0001-4c6e-9a51-000000000003', 'outcome', 'society', 'Effectiveness', 'Outcome', 3, true),
    ('7b0e2f1a-0001-4c6e-9a51-000000000004', 'impact', 'society', 'Effectiveness', 'Impact', 4, true),
    ('7b0e2f1a-0001-4c6e-9a51-000000000005', 'npo_collaboration', 'company', 'Strategy', 'Collaboration with NPOs', 5, true),
    ('7b0e2f1a-0001-4c6e-9a51-000000000006', 'business', 'company', 'Effectiveness', 'Contribution to business', 6, true),
    ('7b0e2f1a-0001-4c6e-9a51-000000000007', 'hr_development', 'company', 'Effectiveness', 'Human-resources development', 7, true),
    ('7b0e2f1a-0001-4c6e-9a51-000000000008', 'corporate_image', 'company', 'Effectiveness', 'Corporate image', 8, true);

CREATE TABLE program_reviews (
    id          uuid PRIMARY KEY,
    fiscal_year integer NOT NULL CHECK (fiscal_year BETWEEN 1900 AND 9999),
    program_id  uuid NOT NULL REFERENCES programs (id),
    reviewer_id uuid REFERENCES users (id),
    comments    text NOT NULL CHECK (length(comments) <= 4000),
    reviewed_at timestamptz NOT NULL,
    UNIQUE (fiscal_year, program_id)
);

CREATE TABLE program_review_scores (
    review_id    uuid NOT NULL REFERENCES program_reviews (id) ON DELETE CASCADE,
    criterion_id uuid NOT NULL REFERENCES review_criteria (id),
    score        integer NOT NULL CHECK (score BETWEEN 1 AND 5),
    PRIMARY KEY (review_id, criterion_id)
);
