//! What PostgreSQL does with the employees' event list, the most read statement: its text
//! carries the status, the instants (`now()`) and the page size, so it has no parameters and each
//! connection plans it once and reuses that plan (`db::literal`). Bound, PostgreSQL planned it
//! anew on every request, and planning took longer than running it.

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

#[derive(QueryableByName)]
struct Plans {
    #[diesel(sql_type = Text)]
    statement: String,
    #[diesel(sql_type = BigInt)]
    generic_plans: i64,
    #[diesel(sql_type = BigInt)]
    custom_plans: i64,
}

#[test]
fn the_employees_event_list_is_planned_once_per_connection_postgres() {
    let Some(backend) = common::postgres() else {
        return;
    };
    let db = TestDb::new(&backend);
    let mut conn = tomoni::db::connect(&db.settings().database).expect("connect");
    conn.batch_execute(common::ONE_PROGRAMME_SQL)
        .expect("programme");
    conn.batch_execute(EVENTS).expect("events");
    let employee = Caller {
        id: Id::new(),
        role: Role::Employee,
        site_id: None,
        sites: Vec::new(),
        restatement: None,
    };

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

    let plans: Vec<Plans> = diesel::sql_query(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements \
         WHERE statement LIKE '%events%'",
    )
    .load(&mut conn)
    .expect("prepared statements");
    assert_eq!(
        plans.len(),
        1,
        "one prepared statement for the list: {:?}",
        plans.iter().map(|p| &p.statement).collect::<Vec<_>>()
    );
    let list = &plans[0];
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
