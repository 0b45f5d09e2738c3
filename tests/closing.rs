//! The report cycle's close and restatement: a closed year's figures stay as published, a
//! correction needs a reason and shows as a difference, a restatement publishes exactly that
//! correction as a new version, and every kind of change to a closed year is held to it.

mod common;

use chrono::{DateTime, TimeZone, Utc};
use common::{Backend, TestApp, TestUser, assert_problem};
use serde_json::{Value, json};
use tomoni::attendance::roster;
use tomoni::auth::{Caller, Role};
use tomoni::config::AttendanceSettings;
use tomoni::db::{AnyConnection, Id};
use tomoni::programs::{events, program};

const REASON: (&str, &str) = (
    "Restatement-Reason",
    "E1 was not there: the sheet was wrong",
);

/// `month`/`day` of fiscal year `fy` at 10:00 in Tokyo (months April to December).
fn in_year(fy: i32, month: u32, day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(fy - 1, month, day, 1, 0, 0).unwrap()
}

fn admin_of(user: &TestUser) -> Caller {
    Caller {
        id: user.id,
        role: Role::Admin,
        site_id: None,
        sites: Vec::new(),
        restatement: None,
    }
}

/// Attendance settings that approve roster lines at once.
fn approving() -> AttendanceSettings {
    AttendanceSettings {
        check_in_opens_minutes_before: 60,
        allow_walk_ins: true,
        auto_approve_roster: true,
        default_minutes_per_day: 480,
        check_in_attempt_burst: 0,
        check_in_attempt_period_secs: 30,
    }
}

fn programme(conn: &mut AnyConnection, site: Id, code: &str, categories: &[&str]) -> Id {
    let req: program::CreateProgram = serde_json::from_value(json!({"site_id": site.to_string(),
        "code": code, "title": code, "theme": "nature", "categories": categories}))
    .unwrap();
    program::create(conn, &req).unwrap()
}

/// A recorded activity with approved attendance: (employee, minutes) per line.
fn activity(
    conn: &mut AnyConnection,
    admin: &TestUser,
    program: Id,
    start: DateTime<Utc>,
    lines: &[(Id, i32)],
) -> (Id, Vec<Id>) {
    let req: events::CreateEvent = serde_json::from_value(json!({"program_id": program.to_string(),
        "starts_at": start.to_rfc3339(), "ends_at": (start + chrono::Duration::hours(3)).to_rfc3339()}))
    .unwrap();
    let event = events::create(conn, &req, admin.id).unwrap();
    let marking: roster::RosterMarking = serde_json::from_value(json!({"entries": lines.iter()
        .map(|(u, m)| json!({"user_id": u.to_string(), "status": "attended", "minutes": m}))
        .collect::<Vec<_>>()}))
    .unwrap();
    let settings = approving();
    let done = roster::mark(conn, &admin_of(admin), event, &marking, None, &settings).unwrap();
    (
        event,
        done.items.into_iter().map(|a| Id::from(a.id)).collect(),
    )
}

struct Year {
    fy: i32,
    site: Id,
    program: Id,
    event: Id,
    records: Vec<Id>,
    people: Vec<TestUser>,
    admin: TestUser,
    hr: TestUser,
}

/// A year that has ended, with one biodiversity activity of three people (3 h each).
fn a_past_year(app: &TestApp) -> Year {
    let fy = common::last_ended_year();
    let site = app.site("CLS");
    let admin = app.user(Role::Admin, None);
    let hr = app.user(Role::Hr, None);
    let people = app.employees(3, Some(site));
    let conn = &mut app.conn();
    let program = programme(conn, site, "FOREST", &["biodiversity"]);
    let lines: Vec<(Id, i32)> = people.iter().map(|p| (p.id, 180)).collect();
    let (event, records) = activity(conn, &admin, program, in_year(fy, 6, 10), &lines);
    Year {
        fy,
        site,
        program,
        event,
        records,
        people,
        admin,
        hr,
    }
}

async fn report(app: &TestApp, token: &str, fy: i32, figures: &str) -> Value {
    let (status, _, body) = app
        .call(
            "GET",
            &format!("/api/v1/stats/mdd?from={fy}&to={fy}&figures={figures}"),
            Some(token),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["years"][0].clone()
}

async fn version(app: &TestApp, token: &str, fy: i32, n: i32) -> Value {
    let path = format!("/api/v1/stats/years/{fy}/versions/{n}");
    let (status, _, body) = app.call("GET", &path, Some(token), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn a_closed_year_stays_as_published_until_restated(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let y = a_past_year(&app);
    let (fy, hr, admin) = (y.fy, app.token(&y.hr), app.token(&y.admin));
    let employee = app.token(&y.people[0]);
    let before = report(&app, &employee, fy, "published").await;
    assert_eq!(before["figures"]["participants"], 3);
    assert_eq!(before["published_version"], Value::Null);

    // Who may close, and when.
    let close = format!("/api/v1/stats/years/{fy}/close");
    assert_problem(
        &app.call("POST", &close, Some(&employee), None).await,
        403,
        "forbidden",
    );
    let next = format!("/api/v1/stats/years/{}/close", fy + 1);
    assert_problem(
        &app.call("POST", &next, Some(&hr), None).await,
        409,
        "year_not_ended",
    );
    let (status, _, closed) = app.call("POST", &close, Some(&hr), None).await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["closed"], true);
    assert_eq!(closed["versions"][0]["version"], 1);
    assert_problem(
        &app.call("POST", &close, Some(&hr), None).await,
        409,
        "year_closed",
    );

    // A correction without a reason is refused and changes nothing.
    let reject = format!("/api/v1/attendance/{}/reject", y.records[0]);
    let body = json!({"reason": "not there"});
    assert_problem(
        &app.call("POST", &reject, Some(&admin), Some(body.clone()))
            .await,
        409,
        "restatement_reason_required",
    );
    let current = report(&app, &employee, fy, "current").await;
    assert_eq!(current["figures"]["participants"], 3, "nothing was written");
    // With one, it is applied; readers still get the published figures.
    let (status, _, rejected) = app
        .call_with("POST", &reject, Some(&admin), Some(body), &[REASON])
        .await;
    assert_eq!(status, 200, "{rejected}");
    let published = report(&app, &employee, fy, "published").await;
    assert_eq!(published["figures"], before["figures"]);
    assert_eq!(published["published_version"], 1);
    let current = report(&app, &employee, fy, "current").await;
    assert_eq!(current["figures"]["participants"], 2);
    assert_eq!(current["published_version"], Value::Null);
    // Side by side: the differences are exactly the one record of 3 hours.
    let both = report(&app, &employee, fy, "both").await;
    assert_eq!(both["figures"], before["figures"]);
    assert_eq!(both["current"], current["figures"]);
    assert_eq!(
        both["differences"],
        json!({"participants": -1.0, "unique_participants": -1.0, "person_days": -1.0,
               "volunteer_hours": -3.0, "biodiversity_participants": -1.0})
    );

    // The correction waits for a restatement, with its reason.
    let status_path = format!("/api/v1/stats/years/{fy}");
    assert_problem(
        &app.call("GET", &status_path, Some(&employee), None).await,
        403,
        "forbidden",
    );
    let (_, _, state) = app.call("GET", &status_path, Some(&hr), None).await;
    assert_eq!(state["pending"][0]["reason"], REASON.1, "{state}");

    // Restating publishes version 2 with exactly that correction; version 1 stays.
    let restate = format!("/api/v1/stats/years/{fy}/restate");
    let (status, _, restated) = app.call("POST", &restate, Some(&hr), Some(json!({}))).await;
    assert_eq!(status, 200, "{restated}");
    assert_eq!(restated["versions"][1]["version"], 2);
    assert_eq!(
        restated["versions"][1]["restatements"][0]["reason"],
        REASON.1
    );
    assert_eq!(restated["pending"], json!([]));
    let published = report(&app, &employee, fy, "published").await;
    assert_eq!(published["published_version"], 2);
    assert_eq!(published["figures"], current["figures"]);
    let v1 = version(&app, &employee, fy, 1).await;
    assert_eq!(v1["figures"], before["figures"]);
    let v2 = version(&app, &employee, fy, 2).await;
    assert_eq!(v2["figures"], current["figures"]);
    assert_problem(
        &app.call(
            "GET",
            &format!("/api/v1/stats/years/{fy}/versions/3"),
            Some(&employee),
            None,
        )
        .await,
        404,
        "not_found",
    );
    assert_problem(
        &app.call("POST", &restate, Some(&hr), Some(json!({}))).await,
        409,
        "nothing_to_restate",
    );
    // Breakdowns and objectives come from the published version too.
    let (_, _, by_site) = app
        .call(
            "GET",
            &format!("/api/v1/stats/mdd/{fy}/breakdown?by=site"),
            Some(&employee),
            None,
        )
        .await;
    assert_eq!(by_site["published_version"], 2, "{by_site}");
    assert_eq!(by_site["total"], v2["figures"]);

    // Reopening is for admins, with a reason; then readers get the current figures.
    let reopen = format!("/api/v1/stats/years/{fy}/reopen");
    assert_problem(
        &app.call("POST", &reopen, Some(&hr), Some(json!({"reason": "x"})))
            .await,
        403,
        "forbidden",
    );
    assert_problem(
        &app.call("POST", &reopen, Some(&admin), Some(json!({"reason": " "})))
            .await,
        422,
        "validation_failed",
    );
    let (status, _, reopened) = app
        .call(
            "POST",
            &reopen,
            Some(&admin),
            Some(json!({"reason": "the auditors asked"})),
        )
        .await;
    assert_eq!(status, 200, "{reopened}");
    assert_eq!(reopened["closed"], false);
    assert_eq!(reopened["versions"].as_array().map(Vec::len), Some(2));
    let open = report(&app, &employee, fy, "published").await;
    assert_eq!(open["published_version"], Value::Null);

    // Every step is in the audit log.
    let (_, _, log) = app
        .call(
            "GET",
            &format!("/api/v1/audit?entity_type=fiscal_year&entity_id={fy}"),
            Some(&admin),
            None,
        )
        .await;
    let mut actions: Vec<&str> = log["items"]
        .as_array()
        .expect("audit items")
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    actions.sort();
    assert_eq!(
        actions,
        [
            "fiscal_year.close",
            "fiscal_year.reopen",
            "fiscal_year.restate",
            "fiscal_year.restatement"
        ]
    );
}

/// A published event of the year after `y` that took place two days after the year began, with
/// the approved attendance of one person.
fn held_after(app: &TestApp, y: &Year) -> Id {
    use diesel::prelude::*;
    use tomoni::db::schema::events as ev;
    let conn = &mut app.conn();
    let program = programme(conn, y.site, "RIVER", &[]);
    let soon = Utc::now() + chrono::Duration::days(30);
    let req: events::CreateEvent = serde_json::from_value(json!({"program_id": program.to_string(),
        "starts_at": soon.to_rfc3339(), "ends_at": (soon + chrono::Duration::hours(3)).to_rfc3339()}))
    .unwrap();
    let event = events::create(conn, &req, y.admin.id).unwrap();
    events::publish(conn, event).unwrap();
    // Time passes: it was held in April of the year after.
    let held = in_year(y.fy + 1, 4, 3);
    diesel::update(ev::table.filter(ev::id.eq(event)))
        .set((
            ev::starts_at.eq(tomoni::db::Timestamp::from(held)),
            ev::ends_at.eq(tomoni::db::Timestamp::from(
                held + chrono::Duration::hours(3),
            )),
        ))
        .execute(conn)
        .unwrap();
    let marking: roster::RosterMarking = serde_json::from_value(json!({"entries": [
        {"user_id": y.people[2].id.to_string(), "status": "attended", "minutes": 120}]}))
    .unwrap();
    let settings = approving();
    roster::mark(conn, &admin_of(&y.admin), event, &marking, None, &settings).unwrap();
    event
}

async fn every_change_to_a_closed_year_needs_a_reason(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let y = a_past_year(&app);
    let (fy, hr, admin) = (y.fy, app.token(&y.hr), app.token(&y.admin));
    let (status, _, _) = app
        .call(
            "POST",
            &format!("/api/v1/stats/years/{fy}/close"),
            Some(&hr),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let rfc = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    // A recorded activity cannot move; a published event of the year after that has taken
    // place can, into the closed year.
    let moving = held_after(&app, &y);
    let into_closed = in_year(fy, 9, 1);
    let changes: Vec<(&str, String, Option<Value>)> = vec![
        (
            "PUT",
            format!("/api/v1/events/{}/attendance", y.event),
            Some(
                json!({"entries": [{"user_id": y.people[1].id.to_string(), "status": "no_show"}]}),
            ),
        ),
        (
            "PATCH",
            format!("/api/v1/events/{moving}"),
            Some(
                json!({"starts_at": rfc(into_closed), "ends_at": rfc(into_closed + chrono::Duration::hours(3))}),
            ),
        ),
        (
            "PATCH",
            format!("/api/v1/programs/{}", y.program),
            Some(json!({"categories": []})),
        ),
        (
            "PATCH",
            format!("/api/v1/sites/{}", y.site),
            // Closed before the year began: no longer one of its active sites.
            Some(json!({"closed_on": format!("{}-12-31", fy - 2)})),
        ),
        (
            "PUT",
            format!("/api/v1/objectives/{fy}"),
            Some(json!({"objectives": [{"metric": "participants", "target": 10}]})),
        ),
    ];
    for (method, path, body) in &changes {
        let refused = app.call(method, path, Some(&admin), body.clone()).await;
        assert_problem(&refused, 409, "restatement_reason_required");
        let (status, _, answer) = app
            .call_with(method, path, Some(&admin), body.clone(), &[REASON])
            .await;
        assert!(
            status < 300,
            "{method} {path} with a reason: {status} {answer}"
        );
    }
    // A participation file with a record of the closed year: refused in the dry run already.
    let number = app.employee_number(&y.people[0]);
    let csv = format!(
        "site_code,program_code,program_title,theme,categories,event_date,employee_number,hours\n\
         CLS,OLD,Old programme,nature,,{}-07-01,{number},2\n",
        fy - 1
    );
    let mut res = app
        .client()
        .post(app.url("/api/v1/imports/participations?dry_run=true"))
        .insert_header(("Authorization", format!("Bearer {hr}")))
        .insert_header(("content-type", "text/csv"))
        .send_body(csv)
        .await
        .expect("import");
    let (status, _, body) = common::read_json(&mut res).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["code"], "restatement_reason_required");
    // Changes that do not move a figure of the closed year need none: a site opened a year
    // later than it was, still long before.
    let (status, _, body) = app
        .call(
            "PATCH",
            &format!("/api/v1/sites/{}", app.site("NEW")),
            Some(&admin),
            Some(json!({"opened_on": "2001-04-01"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Each accepted change is one correction waiting for the restatement.
    let (_, _, state) = app
        .call("GET", &format!("/api/v1/stats/years/{fy}"), Some(&hr), None)
        .await;
    let pending = state["pending"].as_array().map(Vec::len);
    assert_eq!(
        pending,
        Some(1),
        "one reason, one person: one correction; {state}"
    );
}

both_backends!(
    a_closed_year_stays_as_published_until_restated,
    every_change_to_a_closed_year_needs_a_reason,
);
