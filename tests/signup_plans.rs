//! What PostgreSQL does with the sign-up's clash check (duplicate, then overlap) once there is a
//! history: thousands of events over years and an employee with hundreds of past sign-ups. The
//! check must read neither table whole; its cost follows the sign-ups near the new event's time,
//! not the employee's past (issue: a sign-up in year ten costs what it cost on day one).

mod common;

use common::TestDb;
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use serde_json::Value;

#[derive(QueryableByName)]
struct PlanLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    plan: String,
}

/// Every node of a JSON plan, depth first.
fn nodes(plan: &Value, out: &mut Vec<Value>) {
    out.push(plan.clone());
    for child in plan["Plans"].as_array().into_iter().flatten() {
        nodes(child, out);
    }
}

/// 6,000 events 4 h apart (2.7 years), 200 employees; employee 0 signed up for every tenth
/// event (600 sign-ups), the others for one event in 200 each; one more event, at the end, that
/// employee 0 is about to sign up for.
const HISTORY: &str = "
INSERT INTO users (id, employee_number, email, display_name, site_id, role, created_at, updated_at)
  SELECT ('00000000-0000-7000-9000-' || lpad(to_hex(u), 12, '0'))::uuid, 'E' || u, 'e' || u || '@example.com',
         'Employee ' || u, '00000000-0000-7000-8000-000000000002', 'employee', now(), now()
  FROM generate_series(0, 199) AS u;
INSERT INTO events (id, program_id, title, starts_at, ends_at, timezone, capacity, status, created_at, updated_at)
  SELECT ('00000000-0000-7000-a000-' || lpad(to_hex(n), 12, '0'))::uuid, '00000000-0000-7000-8000-000000000003',
         'Event ' || n, timestamptz '2024-01-01 00:00Z' + n * interval '4 hours',
         timestamptz '2024-01-01 03:00Z' + n * interval '4 hours', 'Asia/Tokyo', 500, 'published', now(), now()
  FROM generate_series(0, 6000) AS n;
INSERT INTO signups (id, event_id, user_id, status, forced, created_by, created_at, updated_at, starts_at, ends_at)
  SELECT gen_random_uuid(), e.id, u.id, 'confirmed', false, u.id, now(), now(), e.starts_at, e.ends_at
  FROM generate_series(0, 5999) AS n
  JOIN events e ON e.id = ('00000000-0000-7000-a000-' || lpad(to_hex(n), 12, '0'))::uuid
  JOIN users u ON u.id = ('00000000-0000-7000-9000-' || lpad(to_hex(CASE WHEN n % 10 = 0 THEN 0 ELSE 1 + n % 199 END), 12, '0'))::uuid;
ANALYZE;
";

#[test]
fn the_clash_check_reads_only_sign_ups_near_the_new_event() {
    let Some(backend) = common::postgres() else {
        return;
    };
    let db = TestDb::new(&backend);
    let mut conn = PgConnection::establish(&db.settings().database.url).expect("connect");
    conn.batch_execute(common::ONE_PROGRAMME_SQL)
        .expect("programme");
    conn.batch_execute(HISTORY).expect("history");
    let history: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM signups WHERE user_id = '00000000-0000-7000-9000-000000000000'",
    )
    .get_result(&mut conn)
    .expect("count");
    assert_eq!(history, 600, "employee 0's past sign-ups");

    // The statements exactly as the service sends them, with the new event's values.
    let employee = "'00000000-0000-7000-9000-000000000000'::uuid";
    let event = "'00000000-0000-7000-a000-000000001770'::uuid"; // n = 6000, the last one
    let (start, end) = (
        "timestamptz '2024-01-01 00:00Z' + 6000 * interval '4 hours'",
        "timestamptz '2024-01-01 03:00Z' + 6000 * interval '4 hours'",
    );
    let earliest = format!("{start} - interval '31 days'");
    for (name, sql, args) in [
        (
            "clash",
            tomoni::signups::service::CLASH_SQL,
            format!("{employee}, {event}, {earliest}, {end}, {start}"),
        ),
        (
            "duplicate",
            tomoni::signups::service::DUPLICATE_SQL,
            format!("{employee}, {event}"),
        ),
    ] {
        conn.batch_execute(&format!("PREPARE {name} AS {sql}"))
            .expect("prepare");
        let lines: Vec<PlanLine> = diesel::sql_query(format!(
            "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE {name}({args})"
        ))
        .load(&mut conn)
        .expect("explain");
        let plan: Value = serde_json::from_str(&lines[0].plan).expect("JSON plan");
        let mut all = Vec::new();
        nodes(&plan[0]["Plan"], &mut all);
        let seq: Vec<&Value> = all
            .iter()
            .filter(|n| {
                n["Node Type"] == "Seq Scan"
                    && matches!(n["Relation Name"].as_str(), Some("events" | "signups"))
            })
            .collect();
        assert!(seq.is_empty(), "{name}: a sequential scan in {plan:#}");
        // Rows read from signups: a handful near the new event, never the 600 of the past.
        let read: f64 = all
            .iter()
            .filter(|n| n["Relation Name"] == "signups")
            .map(|n| {
                n["Actual Rows"].as_f64().unwrap_or(0.0)
                    + n["Rows Removed by Filter"].as_f64().unwrap_or(0.0)
            })
            .sum();
        assert!(read < 50.0, "{name}: {read} sign-up rows read in {plan:#}");
    }
}
