//! The statements that run on nearly every request are prepared once per PostgreSQL connection
//! and reused (`db::literal`). The employees' event list, the most read, carries its status, its
//! instants (`now()`) and its page size in its text, so it has no parameters and one plan serves
//! every run (bound, PostgreSQL planned it anew each time, and planning took longer than
//! running it). The sign-up's clash check and the outbox's insert, hand-written SQL, were sent
//! unprepared and parsed and planned on every sign-up. The statistics read one scope's
//! summaries over a span of years; they find them through an index led by the scope, not by
//! reading every scope of every year.

mod common;

use common::TestDb;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use tomoni::auth::{Caller, Role};
use tomoni::db::Id;
use tomoni::programs::events::{self, EventQuery, ListFilter};

/// After `common::ONE_PROGRAMME_SQL`: 300 published events a day apart from yesterday on, 20 drafts and
/// 20 that ended last month.
const EVENTS: &str = "
INSERT INTO events (id, program_id, title, starts_at, ends_at, timezone, capacity, status, created_at, updated_at)
  SELECT gen_random_uuid(), '00000000-0000-7000-8000-000000000003', 'Event ' || n,
         date_trunc('hour', now()) + (n - 1) * interval '1 day',
         date_trunc('hour', now()) + (n - 1) * interval '1 day' + interval '3 hours',
         'Asia/Tokyo', 50, CASE WHEN n > 300 THEN 'draft' ELSE 'published' END, now(), now()
  FROM generate_series(0, 320) AS n;
INSERT INTO events (id, program_id, title, starts_at, ends_at, timezone, capacity, status, created_at, updated_at)
  SELECT gen_random_uuid(), '00000000-0000-7000-8000-000000000003', 'Past ' || n,
         now() - interval '40 days' + n * interval '1 hour', now() - interval '39 days' + n * interval '1 hour',
         'Asia/Tokyo', 50, 'published', now(), now()
  FROM generate_series(1, 20) AS n;
ANALYZE;
";

/// A connection to a fresh PostgreSQL test database holding `common::ONE_PROGRAMME_SQL` and
/// `rows`; `None` without PostgreSQL. The database lives as long as the `TestDb`.
fn postgres_with(rows: &str) -> Option<(TestDb, tomoni::db::AnyConnection)> {
    let db = TestDb::new(&common::postgres()?);
    let mut conn = tomoni::db::connect(&db.settings().database).expect("connect");
    conn.batch_execute(common::ONE_PROGRAMME_SQL)
        .expect("programme");
    conn.batch_execute(rows).expect("rows");
    Some((db, conn))
}

/// An employee as the API's extractor resolves one.
fn employee(id: Id) -> Caller {
    Caller {
        id,
        role: Role::Employee,
        site_id: None,
        sites: Vec::new(),
        restatement: None,
    }
}

#[derive(QueryableByName)]
struct Plans {
    #[diesel(sql_type = Text)]
    statement: String,
    #[diesel(sql_type = BigInt)]
    generic_plans: i64,
    #[diesel(sql_type = BigInt)]
    custom_plans: i64,
}

/// The one statement over `events` the connection has prepared (it fails on none or several).
fn the_one_list_statement(conn: &mut tomoni::db::AnyConnection) -> Plans {
    let mut plans: Vec<Plans> = diesel::sql_query(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements \
         WHERE statement LIKE '%events%'",
    )
    .load(conn)
    .expect("prepared statements");
    assert_eq!(
        plans.len(),
        1,
        "one prepared statement for the list: {:?}",
        plans.iter().map(|p| &p.statement).collect::<Vec<_>>()
    );
    plans.remove(0)
}

#[test]
fn the_employees_event_list_is_planned_once_per_connection_postgres() {
    let Some((_db, mut conn)) = postgres_with(EVENTS) else {
        return;
    };
    let employee = employee(Id::new());

    let runs = 12;
    let mut pages = Vec::new();
    for _ in 0..runs {
        let filter = ListFilter::for_caller(&employee, EventQuery::default(), 50).expect("filter");
        pages.push(events::list(&mut conn, &filter).expect("list"));
    }
    // The page as the filter asks: 51 (one more tells a next page follows) published events
    // still running, in start order, none of the drafts or the past ones.
    let page = &pages[0];
    assert_eq!(page.len(), 51);
    assert!(page.iter().all(|e| e.title.starts_with("Event ")));
    assert!(page.windows(2).all(|w| w[0].starts_at <= w[1].starts_at));
    assert!(pages.iter().all(|p| p.len() == 51 && p[0].id == page[0].id));

    let list = the_one_list_statement(&mut conn);
    assert!(
        !list.statement.contains('$'),
        "no parameter is bound: {}",
        list.statement
    );
    assert!(list.statement.contains("now()"), "{}", list.statement);
    assert_eq!(
        (list.generic_plans, list.custom_plans),
        (runs, 0),
        "every run used the one plan made for the statement"
    );
}

#[test]
fn the_list_with_its_callers_check_is_prepared_once_per_connection_postgres() {
    let caller = "
INSERT INTO users (id, employee_number, email, display_name, role, created_at, updated_at)
  VALUES ('00000000-0000-7000-9000-000000000001', 'E1', 'e1@example.com', 'Employee 1',
          'employee', now(), now());
INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, created_at, expires_at)
  VALUES (gen_random_uuid(), '00000000-0000-7000-9000-000000000001',
          '00000000-0000-7000-9000-000000000002', 'hash', now(), now() + interval '1 hour');
";
    let Some((_db, mut conn)) = postgres_with(&format!("{EVENTS}{caller}")) else {
        return;
    };
    let (user, sign_in): (Id, Id) = (
        "00000000-0000-7000-9000-000000000001".parse().unwrap(),
        "00000000-0000-7000-9000-000000000002".parse().unwrap(),
    );
    let runs = 12;
    for _ in 0..runs {
        let filter = ListFilter::for_anyone(EventQuery::default(), 50)
            .expect("filter")
            .expect("the same for anyone");
        let (role, page) = events::list_signed_in(&mut conn, user, sign_in, &filter).expect("list");
        assert_eq!((role, page.len()), (Role::Employee, 51));
    }
    let list = the_one_list_statement(&mut conn);
    assert!(
        list.statement.contains("refresh_tokens"),
        "{}",
        list.statement
    );
    assert_eq!(
        list.generic_plans + list.custom_plans,
        runs,
        "{}",
        list.statement
    );
}

#[derive(QueryableByName)]
struct Executions {
    #[diesel(sql_type = Text)]
    statement: String,
    #[diesel(sql_type = BigInt)]
    runs: i64,
}

/// After `common::ONE_PROGRAMME_SQL`: one employee and 8 published events a day apart from
/// tomorrow on.
const SIGNUPS: &str = "
INSERT INTO users (id, employee_number, email, display_name, site_id, role, created_at, updated_at)
  VALUES ('00000000-0000-7000-9000-000000000001', 'E1', 'e1@example.com', 'Employee 1',
          '00000000-0000-7000-8000-000000000002', 'employee', now(), now());
INSERT INTO events (id, program_id, title, starts_at, ends_at, timezone, capacity, status, created_at, updated_at)
  SELECT gen_random_uuid(), '00000000-0000-7000-8000-000000000003', 'Event ' || n,
         date_trunc('hour', now()) + n * interval '1 day',
         date_trunc('hour', now()) + n * interval '1 day' + interval '3 hours',
         'Asia/Tokyo', 50, 'published', now(), now()
  FROM generate_series(1, 8) AS n;
";

#[test]
fn a_sign_up_prepares_its_hand_written_statements_once_postgres() {
    let Some((_db, mut conn)) = postgres_with(SIGNUPS) else {
        return;
    };
    let employee: Id = "00000000-0000-7000-9000-000000000001".parse().expect("id");
    let caller = self::employee(employee);
    use tomoni::db::schema::{events as event_rows, outbox};
    let ids: Vec<Id> = event_rows::table
        .select(event_rows::id)
        .order(event_rows::starts_at)
        .load(&mut conn)
        .expect("events");
    assert_eq!(ids.len(), 8);
    for id in &ids {
        tomoni::signups::service::sign_up_as(&mut conn, &caller, *id, None, false)
            .expect("sign up");
    }
    // The answers are the usual ones: a second sign-up for the same event is a duplicate.
    let again = tomoni::signups::service::sign_up_as(&mut conn, &caller, ids[0], None, false);
    assert!(again.is_err(), "a duplicate is refused");
    let queued: i64 = outbox::table.count().get_result(&mut conn).expect("outbox");
    assert_eq!(queued, 8, "a confirmation queued per sign-up");

    let prepared: Vec<Executions> = diesel::sql_query(
        "SELECT statement, generic_plans + custom_plans AS runs FROM pg_prepared_statements \
         WHERE statement LIKE '%UNION ALL%' OR statement LIKE 'INSERT INTO outbox%'",
    )
    .load(&mut conn)
    .expect("prepared statements");
    let runs = |what: &str| {
        let found: Vec<&Executions> = prepared
            .iter()
            .filter(|p| p.statement.contains(what))
            .collect();
        assert_eq!(found.len(), 1, "one prepared statement for {what}");
        found[0].runs
    };
    assert_eq!(
        runs("UNION ALL"),
        9,
        "the clash check: one statement, every sign-up"
    );
    assert_eq!(
        runs("INSERT INTO outbox"),
        8,
        "the outbox insert: one statement"
    );
}

/// Ten years of summaries for the whole group and 3,000 sites (what `seed demo --years 10`
/// holds): the group's row of each year is one of thousands.
const SUMMARIES: &str = "
INSERT INTO stats_year (fiscal_year, scope, participants, minutes, days, biodiversity, disaster_relief)
  SELECT fy, CASE WHEN s = 0 THEN 'all' ELSE 's:' || s END, 100 + fy - 2016, 6000, 50, 3, 2
  FROM generate_series(2016, 2026) AS fy, generate_series(0, 3000) AS s;
INSERT INTO stats_unique (fiscal_year, scope, members)
  SELECT fy, CASE WHEN s = 0 THEN 'all' WHEN s = 1 THEN 'programs/all' WHEN s = 2 THEN 'sites/all'
                  ELSE 's:' || s END, 40 + s
  FROM generate_series(2016, 2026) AS fy, generate_series(0, 3000) AS s;
ANALYZE;
";

#[derive(QueryableByName)]
struct Scans {
    #[diesel(sql_type = Text)]
    relname: String,
    #[diesel(sql_type = BigInt)]
    seq_scan: i64,
}

#[test]
fn the_statistics_find_their_scope_without_reading_every_summary_postgres() {
    let Some((_db, mut conn)) = postgres_with(SUMMARIES) else {
        return;
    };
    use tomoni::stats::mdd::{Scope, figures};
    let (years, scans) = conn
        .transaction::<_, diesel::result::Error, _>(|conn| {
            let years = figures(
                conn,
                tomoni::time::FiscalCalendar::APRIL,
                2017..=2026,
                &Scope::default(),
            )
            .map_err(|e| diesel::result::Error::QueryBuilderError(e.to_string().into()))?;
            // This transaction's own scans so far, per table.
            let scans: Vec<Scans> = diesel::sql_query(
                "SELECT relname::text AS relname, seq_scan FROM pg_stat_xact_user_tables \
                 WHERE relname IN ('stats_year', 'stats_unique') ORDER BY relname",
            )
            .load(conn)?;
            Ok((years, scans))
        })
        .expect("figures");
    // The group's rows, not a site's: 2020's participants, and the three distinct counts.
    let fy2020 = &years[&2020];
    assert_eq!(fy2020.participants, 104);
    assert_eq!(
        (fy2020.unique_participants, fy2020.programs, fy2020.sites),
        (40, 41, 42)
    );
    assert_eq!(years.len(), 10);
    let scanned: Vec<(String, i64)> = scans.into_iter().map(|s| (s.relname, s.seq_scan)).collect();
    assert_eq!(
        scanned,
        vec![("stats_unique".to_owned(), 0), ("stats_year".to_owned(), 0)],
        "both summaries read through their scope index, neither scanned whole"
    );
}
