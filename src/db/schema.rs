//! Table definitions for diesel, shared by both backends.
//!
//! Written by hand (not `diesel print-schema`) because the uuid and time columns use the
//! backend-neutral types of [`crate::db::types::sql`]. Keep in step with both migration folders;
//! the `schema_matches_migrations` test selects every column of every table on both databases.

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    companies (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        country -> Text,
        created_at -> UtcTime,
        updated_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    sites (id) {
        id -> Uuid,
        code -> Text,
        name -> Text,
        company_id -> Uuid,
        country -> Text,
        region -> Text,
        timezone -> Text,
        opened_on -> Date,
        closed_on -> Nullable<Date>,
        created_at -> UtcTime,
        updated_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    partners (id) {
        id -> Uuid,
        name -> Text,
        kind -> Text,
        country -> Nullable<Text>,
        website -> Nullable<Text>,
        contact_email -> Nullable<Text>,
        created_at -> UtcTime,
        updated_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    users (id) {
        id -> Uuid,
        employee_number -> Text,
        email -> Text,
        display_name -> Text,
        site_id -> Nullable<Uuid>,
        role -> Text,
        active -> Bool,
        locale -> Text,
        password_hash -> Nullable<Text>,
        calendar_token_hash -> Nullable<Text>,
        created_at -> UtcTime,
        updated_at -> UtcTime,
        anonymised_at -> Nullable<UtcTime>,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    coordinator_sites (user_id, site_id) {
        user_id -> Uuid,
        site_id -> Uuid,
        created_at -> UtcTime,
    }
}

diesel::table! {
    categories (code) {
        code -> Text,
        label -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    programs (id) {
        id -> Uuid,
        site_id -> Uuid,
        code -> Text,
        title -> Text,
        description -> Text,
        theme -> Text,
        partner_id -> Nullable<Uuid>,
        status -> Text,
        created_at -> UtcTime,
        updated_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    program_categories (program_id, category) {
        program_id -> Uuid,
        category -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    events (id) {
        id -> Uuid,
        program_id -> Uuid,
        title -> Text,
        description -> Text,
        starts_at -> UtcTime,
        ends_at -> UtcTime,
        timezone -> Text,
        location -> Text,
        capacity -> Nullable<Integer>,
        taken -> Integer,
        waitlisted -> Integer,
        waitlist_enabled -> Bool,
        signup_deadline -> Nullable<UtcTime>,
        cancel_deadline -> Nullable<UtcTime>,
        status -> Text,
        check_in_code -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> UtcTime,
        updated_at -> UtcTime,
        /// The organising site's local start date (filled for old rows by db::backfill_event_dates).
        starts_on -> Nullable<Date>,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    signups (id) {
        id -> Uuid,
        event_id -> Uuid,
        user_id -> Uuid,
        status -> Text,
        waitlist_position -> Nullable<Integer>,
        forced -> Bool,
        created_by -> Uuid,
        created_at -> UtcTime,
        updated_at -> UtcTime,
        cancelled_at -> Nullable<UtcTime>,
        cancelled_by -> Nullable<Uuid>,
        starts_at -> UtcTime,
        ends_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    attendance (id) {
        id -> Uuid,
        event_id -> Uuid,
        user_id -> Uuid,
        signup_id -> Nullable<Uuid>,
        status -> Text,
        minutes -> Integer,
        days -> Integer,
        source -> Text,
        approval -> Text,
        approved_by -> Nullable<Uuid>,
        approved_at -> Nullable<UtcTime>,
        rejection_reason -> Nullable<Text>,
        recorded_by -> Nullable<Uuid>,
        created_at -> UtcTime,
        updated_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    objectives (fiscal_year, metric) {
        fiscal_year -> Integer,
        metric -> Text,
        target_kind -> Text,
        target_value -> Double,
        updated_by -> Nullable<Uuid>,
        updated_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    outbox (id) {
        id -> Uuid,
        kind -> Text,
        dedupe_key -> Text,
        user_id -> Nullable<Uuid>,
        to_address -> Text,
        locale -> Text,
        payload -> Text,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> UtcTime,
        locked_until -> Nullable<UtcTime>,
        last_error -> Nullable<Text>,
        sent_at -> Nullable<UtcTime>,
        created_at -> UtcTime,
        updated_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    audit_log (id) {
        id -> Uuid,
        occurred_at -> UtcTime,
        actor_id -> Nullable<Uuid>,
        action -> Text,
        entity_type -> Text,
        entity_id -> Nullable<Text>,
        details -> Text,
        request_id -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    idempotency_keys (user_id, key) {
        user_id -> Uuid,
        key -> Text,
        method -> Text,
        path -> Text,
        request_hash -> Text,
        status_code -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        created_at -> UtcTime,
        expires_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Date, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    refresh_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        token_hash -> Text,
        created_at -> UtcTime,
        expires_at -> UtcTime,
        rotated_at -> Nullable<UtcTime>,
        revoked_at -> Nullable<UtcTime>,
    }
}

diesel::table! {
    use diesel::sql_types::{Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    password_links (id) {
        id -> Uuid,
        user_id -> Uuid,
        purpose -> Text,
        token_hash -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> UtcTime,
        expires_at -> UtcTime,
        used_at -> Nullable<UtcTime>,
    }
}

diesel::table! {
    use diesel::sql_types::{Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    web_sessions (id) {
        id -> Uuid,
        user_id -> Uuid,
        secret_hash -> Text,
        csrf_token -> Text,
        created_at -> UtcTime,
        expires_at -> UtcTime,
        ended_at -> Nullable<UtcTime>,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    import_jobs (id) {
        id -> Uuid,
        user_id -> Uuid,
        kind -> Text,
        dry_run -> Bool,
        invite -> Bool,
        status -> Text,
        result -> Nullable<Text>,
        content -> Nullable<Text>,
        created_at -> UtcTime,
        finished_at -> Nullable<UtcTime>,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Nullable};
    use crate::db::types::sql::{UtcTime, Uuid};

    fiscal_year_closes (fiscal_year) {
        fiscal_year -> Integer,
        closed_at -> UtcTime,
        closed_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    published_figures (fiscal_year, version) {
        fiscal_year -> Integer,
        version -> Integer,
        published_at -> UtcTime,
        published_by -> Nullable<Uuid>,
        note -> Text,
        figures -> Text,
        body -> Text,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    restatements (id) {
        id -> Uuid,
        fiscal_year -> Integer,
        reason -> Text,
        recorded_at -> UtcTime,
        recorded_by -> Nullable<Uuid>,
        version -> Nullable<Integer>,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Double, Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    contribution_expenses (id) {
        id -> Uuid,
        fiscal_year -> Integer,
        kind -> Text,
        area -> Text,
        site_id -> Uuid,
        description -> Text,
        quantity -> Nullable<Double>,
        unit_price_yen -> Nullable<BigInt>,
        amount_yen -> BigInt,
        created_by -> Nullable<Uuid>,
        created_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    report_objectives (id) {
        id -> Uuid,
        level -> Text,
        parent_id -> Nullable<Uuid>,
        first_year -> Integer,
        last_year -> Integer,
        title -> Text,
        assessment -> Text,
        achievements -> Nullable<Text>,
        grade -> Nullable<Text>,
        graded_by -> Nullable<Uuid>,
        graded_at -> Nullable<UtcTime>,
        created_by -> Nullable<Uuid>,
        created_at -> UtcTime,
        updated_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::{Double, Integer, Text};
    use crate::db::types::sql::Uuid;

    objective_measures (objective_id, position) {
        objective_id -> Uuid,
        position -> Integer,
        metric -> Text,
        target_kind -> Text,
        target_value -> Double,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Nullable, Text};
    use crate::db::types::sql::Uuid;

    award_categories (id) {
        id -> Uuid,
        fiscal_year -> Integer,
        position -> Integer,
        name -> Text,
        region -> Nullable<Text>,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Text};
    use crate::db::types::sql::Uuid;

    award_criteria (id) {
        id -> Uuid,
        fiscal_year -> Integer,
        position -> Integer,
        name -> Text,
        weight -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::Integer;
    use crate::db::types::sql::Uuid;

    award_judges (fiscal_year, user_id) {
        fiscal_year -> Integer,
        user_id -> Uuid,
    }
}

diesel::table! {
    use diesel::sql_types::{Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    award_nominations (id) {
        id -> Uuid,
        category_id -> Uuid,
        program_id -> Uuid,
        statement -> Text,
        nominated_by -> Nullable<Uuid>,
        created_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::Integer;
    use crate::db::types::sql::{UtcTime, Uuid};

    award_scores (nomination_id, criterion_id, judge_id) {
        nomination_id -> Uuid,
        criterion_id -> Uuid,
        judge_id -> Uuid,
        score -> Integer,
        scored_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::Nullable;
    use crate::db::types::sql::{UtcTime, Uuid};

    award_winners (category_id) {
        category_id -> Uuid,
        nomination_id -> Uuid,
        decided_by -> Nullable<Uuid>,
        decided_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::{Bool, Integer, Nullable, Text};
    use crate::db::types::sql::Uuid;

    review_criteria (id) {
        id -> Uuid,
        code -> Nullable<Text>,
        point_of_view -> Text,
        theme -> Text,
        name -> Text,
        position -> Integer,
        active -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Nullable, Text};
    use crate::db::types::sql::{UtcTime, Uuid};

    program_reviews (id) {
        id -> Uuid,
        fiscal_year -> Integer,
        program_id -> Uuid,
        reviewer_id -> Nullable<Uuid>,
        comments -> Text,
        reviewed_at -> UtcTime,
    }
}

diesel::table! {
    use diesel::sql_types::Integer;
    use crate::db::types::sql::Uuid;

    program_review_scores (review_id, criterion_id) {
        review_id -> Uuid,
        criterion_id -> Uuid,
        score -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Text};

    attempt_budgets (key) {
        key -> Text,
        full_at_us -> BigInt,
    }
}

diesel::joinable!(contribution_expenses -> sites (site_id));
diesel::joinable!(objective_measures -> report_objectives (objective_id));
diesel::joinable!(award_nominations -> award_categories (category_id));
diesel::joinable!(award_nominations -> programs (program_id));
diesel::joinable!(award_scores -> award_nominations (nomination_id));
diesel::joinable!(award_scores -> award_criteria (criterion_id));
diesel::joinable!(award_winners -> award_nominations (nomination_id));
diesel::joinable!(program_reviews -> programs (program_id));
diesel::joinable!(program_review_scores -> program_reviews (review_id));
diesel::joinable!(program_review_scores -> review_criteria (criterion_id));
diesel::joinable!(sites -> companies (company_id));
diesel::joinable!(users -> sites (site_id));
diesel::joinable!(coordinator_sites -> sites (site_id));
diesel::joinable!(coordinator_sites -> users (user_id));
diesel::joinable!(programs -> sites (site_id));
diesel::joinable!(programs -> partners (partner_id));
diesel::joinable!(program_categories -> programs (program_id));
diesel::joinable!(program_categories -> categories (category));
diesel::joinable!(events -> programs (program_id));
diesel::joinable!(signups -> events (event_id));
diesel::joinable!(signups -> users (user_id));
diesel::joinable!(attendance -> users (user_id));
diesel::joinable!(attendance -> events (event_id));
diesel::joinable!(attendance -> signups (signup_id));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(password_links -> users (user_id));
diesel::joinable!(web_sessions -> users (user_id));
diesel::joinable!(idempotency_keys -> users (user_id));

diesel::allow_tables_to_appear_in_same_query!(
    companies,
    sites,
    partners,
    users,
    coordinator_sites,
    categories,
    programs,
    program_categories,
    events,
    signups,
    attendance,
    objectives,
    outbox,
    audit_log,
    idempotency_keys,
    refresh_tokens,
    password_links,
    web_sessions,
    import_jobs,
    fiscal_year_closes,
    published_figures,
    restatements,
    contribution_expenses,
    report_objectives,
    objective_measures,
    award_categories,
    award_criteria,
    award_judges,
    award_nominations,
    award_scores,
    award_winners,
    review_criteria,
    program_reviews,
    program_review_scores,
    attempt_budgets,
    stats_year,
    stats_program_month,
    stats_members,
    stats_unique,
    stats_meta,
);

diesel::table! {
    use diesel::sql_types::Integer;
    use crate::db::types::sql::Uuid;

    stats_program_month (fiscal_year, month, program_id) {
        fiscal_year -> Integer,
        month -> Integer,
        program_id -> Uuid,
        site_id -> Uuid,
        participants -> Integer,
        minutes -> Integer,
        days -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::{BigInt, Integer, Text};

    stats_year (fiscal_year, scope) {
        fiscal_year -> Integer,
        scope -> Text,
        participants -> Integer,
        minutes -> BigInt,
        days -> BigInt,
        biodiversity -> Integer,
        disaster_relief -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Text};
    use crate::db::types::sql::Uuid;

    stats_members (fiscal_year, scope, member_id) {
        fiscal_year -> Integer,
        scope -> Text,
        member_id -> Uuid,
        records -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::{Integer, Text};

    stats_unique (fiscal_year, scope) {
        fiscal_year -> Integer,
        scope -> Text,
        members -> Integer,
    }
}

diesel::table! {
    use diesel::sql_types::Text;

    stats_meta (key) {
        key -> Text,
        value -> Text,
    }
}

diesel::joinable!(stats_program_month -> programs (program_id));
diesel::joinable!(stats_program_month -> sites (site_id));

/// Events joined with their programmes: what the event list reads from, named so that a column
/// from another layer can be written for it (`auth::caller::signed_in_role`).
pub type EventsOfPrograms =
    diesel::helper_types::InnerJoinQuerySource<events::table, programs::table>;
