//! Attendance, check-in and volunteer hours with approval.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{Backend, TestApp, TestUser, assert_problem};
use diesel::prelude::*;
use futures_util::future::join_all;
use serde_json::{Value, json};
use tomoni::auth::Role;
use tomoni::db::schema::{attendance, audit_log, events};
use tomoni::db::{Id, Timestamp};

struct Setup {
    site: Id,
    coordinator: TestUser,
    coord: String,
    program: String,
}

async fn setup(app: &TestApp) -> Setup {
    let site = app.site("A");
    let coordinator = app.coordinator(&[site]);
    let coord = app.token(&coordinator);
    let program = app.program(&coord, site, json!({})).await;
    Setup {
        site,
        coordinator,
        coord,
        program,
    }
}

fn rfc(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// A published event from `start`, `hours` long, in the site's zone (Asia/Tokyo).
async fn event(
    app: &TestApp,
    s: &Setup,
    start: DateTime<Utc>,
    hours: i64,
    capacity: Value,
) -> String {
    event_in(app, s, start, hours, capacity, "Asia/Tokyo").await
}

/// The same in time zone `tz`.
async fn event_in(
    app: &TestApp,
    s: &Setup,
    start: DateTime<Utc>,
    hours: i64,
    capacity: Value,
    tz: &str,
) -> String {
    let fields = json!({"capacity": capacity, "timezone": tz});
    app.published_event(&s.coord, &s.program, start, hours, fields)
        .await
}

/// Moves an event in time (sign-ups are only possible before it starts, attendance after).
fn shift(app: &TestApp, event: &str, start: DateTime<Utc>, hours: i64) {
    let id: Id = event.parse().unwrap();
    let start_ts = Timestamp::from(start);
    diesel::update(events::table.filter(events::id.eq(id)))
        .set((
            events::starts_at.eq(start_ts),
            events::ends_at.eq(Timestamp::from(start + Duration::hours(hours))),
            events::signup_deadline.eq(None::<Timestamp>),
            events::cancel_deadline.eq(None::<Timestamp>),
            events::starts_on.eq(tomoni::time::local_date(start_ts, "Asia/Tokyo")),
        ))
        .execute(&mut app.conn())
        .unwrap();
}

async fn mark(app: &TestApp, token: &str, event: &str, entries: Value) -> (u16, String, Value) {
    app.call(
        "PUT",
        &format!("/api/v1/events/{event}/attendance"),
        Some(token),
        Some(json!({ "entries": entries })),
    )
    .await
}

fn attendance_rows(app: &TestApp, event: &str) -> Vec<(Id, String, i32, i32, String)> {
    let id: Id = event.parse().unwrap();
    attendance::table
        .filter(attendance::event_id.eq(id))
        .select((
            attendance::user_id,
            attendance::status,
            attendance::minutes,
            attendance::days,
            attendance::approval,
        ))
        .order(attendance::id)
        .load(&mut app.conn())
        .unwrap()
}

/// An event that ended yesterday, with `n` employees who had signed up.
async fn past_event(app: &TestApp, s: &Setup, n: usize) -> (String, Vec<TestUser>) {
    let ev = event(app, s, Utc::now() + Duration::days(3), 3, json!(null)).await;
    let people = app.employees(n, Some(s.site));
    for p in &people {
        app.sign_up(p, &ev).await;
    }
    // Yesterday 10:00-13:00 in Tokyo: one local day whatever the time the test runs.
    shift(app, &ev, yesterday_at_one_utc(), 3);
    (ev, people)
}

fn yesterday_at_one_utc() -> DateTime<Utc> {
    (Utc::now() - Duration::days(1))
        .date_naive()
        .and_hms_opt(1, 0, 0)
        .unwrap()
        .and_utc()
}

async fn roster_marking_records_defaults_and_is_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let (ev, people) = past_event(&app, &s, 3).await;
    let entries = json!([
        {"user_id": people[0].id.to_string(), "status": "attended"},
        {"user_id": people[1].id.to_string(), "status": "attended", "minutes": 90},
        {"user_id": people[2].id.to_string(), "status": "no_show"},
    ]);
    let (status, _, first) = mark(&app, &s.coord, &ev, entries.clone()).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (first["created"].as_u64(), first["unchanged"].as_u64()),
        (Some(3), Some(0))
    );
    let items = first["items"].as_array().unwrap();
    assert_eq!(items[0]["minutes"], 180, "default: the event's length");
    assert_eq!(items[0]["days"], 1);
    assert_eq!(items[0]["approval"], "pending");
    assert_eq!(items[0]["source"], "roster");
    assert!(items[0]["signup_id"].is_string(), "linked to the sign-up");
    assert_eq!(items[1]["minutes"], 90);
    assert_eq!(
        (items[2]["minutes"].as_i64(), items[2]["days"].as_i64()),
        (Some(0), Some(0))
    );
    let before = attendance_rows(&app, &ev);

    let (status, _, second) = mark(&app, &s.coord, &ev, entries).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        (
            second["created"].as_u64(),
            second["updated"].as_u64(),
            second["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(3))
    );
    assert_eq!(
        second["items"], first["items"],
        "the same list twice changes nothing"
    );
    assert_eq!(attendance_rows(&app, &ev), before);
}

async fn an_event_with_attendance_cannot_be_cancelled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let (ev, people) = past_event(&app, &s, 1).await;
    let line = json!([{"user_id": people[0].id.to_string(), "status": "attended"}]);
    let (_, _, done) = mark(&app, &s.coord, &ev, line).await;
    let path = format!("/api/v1/events/{ev}/cancel");
    let cancel = || app.call("POST", &path, Some(&s.coord), None);

    assert_problem(&cancel().await, 409, "event_has_attendance");
    let id = done["items"][0]["id"].as_str().unwrap();
    let colleague = app.token(&app.coordinator(&[s.site]));
    let got = app
        .call(
            "POST",
            &format!("/api/v1/attendance/{id}/reject"),
            Some(&colleague),
            Some(json!({"reason": "the event did not take place"})),
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.2);
    let got = cancel().await;
    assert_eq!(got.0, 200, "{}", got.2);
}

async fn invalid_roster_lines_are_named_and_nothing_is_written(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let (ev, people) = past_event(&app, &s, 2).await;
    let (a, b) = (people[0].id.to_string(), people[1].id.to_string());
    let cases = [
        (
            json!([{"user_id": a, "status": "attended", "minutes": 0}]),
            "entries[0].minutes",
            "not_positive",
        ),
        (
            json!([{"user_id": a, "status": "attended", "minutes": 1441}]),
            "entries[0].minutes",
            "over_24h_per_day",
        ),
        (
            json!([{"user_id": a, "status": "attended", "days": 2}]),
            "entries[0].days",
            "outside_event",
        ),
        (
            json!([{"user_id": a, "status": "no_show", "minutes": 30}]),
            "entries[0].minutes",
            "not_allowed",
        ),
        (
            json!([{"user_id": a, "status": "attended"}, {"user_id": uuid::Uuid::now_v7(), "status": "attended"}]),
            "entries[1].user_id",
            "unknown_user",
        ),
        (
            json!([{"user_id": b, "status": "attended"}, {"user_id": b, "status": "no_show"}]),
            "entries[1].user_id",
            "duplicate",
        ),
    ];
    for (entries, field, code) in cases {
        let got = mark(&app, &s.coord, &ev, entries).await;
        let body = assert_problem(&got, 422, "validation_failed");
        assert!(
            body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["field"] == field && e["code"] == code),
            "{field} {code}: {body}"
        );
    }
    let too_many: Vec<Value> = (0..501)
        .map(|_| json!({"user_id": a, "status": "attended"}))
        .collect();
    let got = mark(&app, &s.coord, &ev, Value::Array(too_many)).await;
    assert_problem(&got, 422, "validation_failed");
    let got = mark(
        &app,
        &s.coord,
        &ev,
        json!([{"user_id": a, "status": "maybe"}]),
    )
    .await;
    assert_eq!(got.0, 422, "{}", got.2);
    assert!(
        attendance_rows(&app, &ev).is_empty(),
        "a refused request writes nothing"
    );
}

async fn attendance_is_refused_for_future_cancelled_and_draft_events(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let emp = app.user(Role::Employee, Some(s.site));
    let line = json!([{"user_id": emp.id.to_string(), "status": "attended"}]);
    let future = event(&app, &s, Utc::now() + Duration::days(2), 3, json!(null)).await;
    assert_problem(
        &mark(&app, &s.coord, &future, line.clone()).await,
        409,
        "event_not_started",
    );
    let cancelled = event(&app, &s, Utc::now() + Duration::days(2), 3, json!(null)).await;
    let got = app
        .call(
            "POST",
            &format!("/api/v1/events/{cancelled}/cancel"),
            Some(&s.coord),
            None,
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.2);
    shift(&app, &cancelled, Utc::now() - Duration::days(1), 3);
    assert_problem(
        &mark(&app, &s.coord, &cancelled, line.clone()).await,
        409,
        "event_cancelled",
    );
    // A draft planned for the future whose day has come without anyone publishing it (an event
    // created in the past is a recorded activity instead: see below).
    let (status, _, draft) = app
        .call(
            "POST",
            "/api/v1/events",
            Some(&s.coord),
            Some(
                json!({"program_id": s.program, "starts_at": rfc(Utc::now() + Duration::days(1)),
                        "ends_at": rfc(Utc::now() + Duration::days(1) + Duration::hours(2))}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{draft}");
    assert_eq!(draft["status"], "draft");
    let draft = draft["id"].as_str().unwrap();
    shift(&app, draft, Utc::now() - Duration::days(1), 3);
    assert_problem(
        &mark(&app, &s.coord, draft, line).await,
        409,
        "event_not_published",
    );
}

fn employee_number(app: &TestApp, user: &TestUser) -> String {
    use tomoni::db::schema::users;
    users::table
        .filter(users::id.eq(user.id))
        .select(users::employee_number)
        .first(&mut app.conn())
        .unwrap()
}

/// A three-day trip that already happened is recorded as it was: created `completed` (no sign-up,
/// no mail), its attendance entered by employee number or id with the event's three days as the
/// default, and counted in the fiscal year it happened in.
async fn a_past_three_day_trip_is_recorded_with_its_person_days(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let people = app.employees(3, Some(s.site));
    let (status, _, trip) = app
        .call(
            "POST",
            "/api/v1/events",
            Some(&s.coord),
            Some(
                json!({"program_id": s.program, "title": "Minamisanriku rubble removal",
                "starts_at": "2011-12-01T09:00:00+09:00", "ends_at": "2011-12-03T17:00:00+09:00"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{trip}");
    assert_eq!(trip["status"], "completed", "{trip}");
    let ev = trip["id"].as_str().unwrap().to_owned();
    let signup = app
        .call(
            "POST",
            &format!("/api/v1/events/{ev}/signups"),
            Some(&app.token(&people[0])),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        signup.0, 409,
        "no sign-up for a past activity: {}",
        signup.2
    );
    assert_problem(
        &app.call(
            "POST",
            &format!("/api/v1/events/{ev}/publish"),
            Some(&s.coord),
            None,
        )
        .await,
        409,
        "not_a_draft",
    );

    let unknown = mark(
        &app,
        &s.coord,
        &ev,
        json!([{"employee_number": "NOBODY-1", "status": "attended"},
               {"status": "attended"}]),
    )
    .await;
    let problem = assert_problem(&unknown, 422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "entries[0].employee_number");
    assert_eq!(problem["errors"][0]["code"], "unknown_employee");
    assert_eq!(problem["errors"][1]["field"], "entries[1]");
    assert_eq!(problem["errors"][1]["code"], "one_key");
    assert!(attendance_rows(&app, &ev).is_empty());

    let (status, _, marked) = mark(
        &app,
        &s.coord,
        &ev,
        json!([
            {"employee_number": employee_number(&app, &people[0]), "status": "attended"},
            {"employee_number": employee_number(&app, &people[1]), "status": "attended"},
            {"user_id": people[2].id.to_string(), "status": "attended"},
        ]),
    )
    .await;
    assert_eq!(status, 200, "{marked}");
    assert_eq!(marked["created"], 3);
    for item in marked["items"].as_array().unwrap() {
        assert_eq!(item["days"], 3, "{item}");
        assert_eq!(item["minutes"], 3 * 480, "{item}");
    }
    let ids: Vec<String> = marked["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let (status, _, approved) = app
        .call(
            "POST",
            "/api/v1/attendance/approve",
            Some(&app.token(&app.user(Role::Admin, None))),
            Some(json!({ "ids": ids })),
        )
        .await;
    assert_eq!(status, 200, "{approved}");

    let (status, _, report) = app
        .get_as(&s.coord, "/api/v1/stats/mdd?from=2011&to=2013")
        .await;
    assert_eq!(status, 200, "{report}");
    let figures = |i: usize| report["years"][i]["figures"].clone();
    assert_eq!(report["years"][1]["fiscal_year"], 2012);
    assert_eq!(figures(1)["participants"], 3);
    assert_eq!(figures(1)["person_days"], 9);
    assert_eq!(figures(1)["volunteer_hours"], 72.0);
    assert_eq!(figures(0)["participants"], 0);
    assert_eq!(figures(2)["participants"], 0);

    // Nothing announced (no publication, no change notices); the approval tells each
    // participant their hours were credited, as for any other event.
    use tomoni::db::schema::outbox;
    let mut mails: Vec<String> = outbox::table
        .select(outbox::kind)
        .load(&mut app.conn())
        .unwrap();
    mails.sort();
    assert_eq!(mails, ["hours_approved"; 3]);
}

/// Publishing once sign-up has closed would announce an event nobody can join.
async fn an_event_whose_signup_has_closed_cannot_be_published(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let start = Utc::now() + Duration::days(2);
    let (status, _, draft) = app
        .call(
            "POST",
            "/api/v1/events",
            Some(&s.coord),
            Some(json!({"program_id": s.program, "starts_at": rfc(start),
                "ends_at": rfc(start + Duration::hours(3)),
                "signup_deadline": rfc(Utc::now() - Duration::hours(1))})),
        )
        .await;
    assert_eq!(status, 201, "{draft}");
    assert_eq!(draft["status"], "draft");
    let id = draft["id"].as_str().unwrap();
    let path = format!("/api/v1/events/{id}/publish");
    let refused = app.call("POST", &path, Some(&s.coord), None).await;
    let problem = assert_problem(&refused, 409, "signup_deadline_passed");
    assert!(
        problem["detail"].as_str().unwrap().contains("deadline"),
        "{problem}"
    );
    let (status, _, patched) = app
        .call(
            "PATCH",
            &format!("/api/v1/events/{id}"),
            Some(&s.coord),
            Some(json!({"signup_deadline": null})),
        )
        .await;
    assert_eq!(status, 200, "{patched}");
    let (status, _, published) = app.call("POST", &path, Some(&s.coord), None).await;
    assert_eq!(status, 200, "{published}");
    assert_eq!(published["status"], "published");
}

async fn only_the_sites_coordinators_mark_and_approve(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let (ev, people) = past_event(&app, &s, 1).await;
    let other = app.coordinator(&[app.site("B")]);
    let other_token = app.token(&other);
    let line = json!([{"user_id": people[0].id.to_string(), "status": "attended"}]);
    assert_problem(
        &mark(&app, &other_token, &ev, line.clone()).await,
        403,
        "forbidden",
    );
    assert_problem(
        &mark(&app, &app.token(&people[0]), &ev, line.clone()).await,
        403,
        "forbidden",
    );
    let hr = app.user(Role::Hr, None);
    assert_problem(
        &mark(&app, &app.token(&hr), &ev, line.clone()).await,
        403,
        "forbidden",
    );

    let (_, _, done) = mark(&app, &s.coord, &ev, line).await;
    let id = done["items"][0]["id"].as_str().unwrap().to_owned();
    let approve = |token: String, id: String| {
        let app = &app;
        async move {
            app.call(
                "POST",
                "/api/v1/attendance/approve",
                Some(&token),
                Some(json!({"ids": [id]})),
            )
            .await
        }
    };
    assert_problem(
        &approve(other_token.clone(), id.clone()).await,
        404,
        "not_found",
    );
    assert_problem(
        &approve(app.token(&people[0]), id.clone()).await,
        403,
        "forbidden",
    );
    assert_problem(&approve(app.token(&hr), id.clone()).await, 403, "forbidden");
    let got = app
        .call(
            "POST",
            &format!("/api/v1/attendance/{id}/reject"),
            Some(&other_token),
            Some(json!({"reason": "not mine"})),
        )
        .await;
    assert_problem(&got, 404, "not_found");
    let (_, _, list) = app.get_as(&other_token, "/api/v1/attendance").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        0,
        "another site's queue is invisible"
    );
    let got = app
        .get_as(
            &other_token,
            &format!("/api/v1/attendance?site_id={}", s.site),
        )
        .await;
    assert_problem(&got, 403, "forbidden");
    assert_eq!(
        attendance_rows(&app, &ev)[0].4,
        "pending",
        "nothing was decided"
    );
}

async fn nobody_approves_their_own_hours(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let (ev, _) = past_event(&app, &s, 0).await;
    let line = json!([{"user_id": s.coordinator.id.to_string(), "status": "attended"}]);
    let (status, _, done) = mark(&app, &s.coord, &ev, line).await;
    assert_eq!(status, 200, "{done}");
    let id = done["items"][0]["id"].as_str().unwrap().to_owned();
    let got = app
        .call(
            "POST",
            "/api/v1/attendance/approve",
            Some(&s.coord),
            Some(json!({"ids": [id]})),
        )
        .await;
    assert_problem(&got, 403, "own_attendance");
    let got = app
        .call(
            "POST",
            &format!("/api/v1/attendance/{id}/reject"),
            Some(&s.coord),
            Some(json!({"reason": "no"})),
        )
        .await;
    assert_problem(&got, 403, "own_attendance");
    // Another coordinator of the site can.
    let colleague = app.coordinator(&[s.site]);
    let got = app
        .call(
            "POST",
            "/api/v1/attendance/approve",
            Some(&app.token(&colleague)),
            Some(json!({"ids": [id]})),
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.2);
    assert_eq!(got.2["approved"], 1);
}

async fn approval_rejection_and_audited_changes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let (ev, people) = past_event(&app, &s, 3).await;
    let lines: Vec<Value> = people
        .iter()
        .map(|p| json!({"user_id": p.id.to_string(), "status": "attended"}))
        .collect();
    let (_, _, done) = mark(&app, &s.coord, &ev, Value::Array(lines)).await;
    let ids: Vec<String> = done["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();

    let (_, _, queue) = app
        .get_as(&s.coord, "/api/v1/attendance?approval=pending")
        .await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 3, "{queue}");
    assert_eq!(queue["items"][0]["event_title"], "Beach clean-up");

    let approve = |ids: Value| {
        app.call(
            "POST",
            "/api/v1/attendance/approve",
            Some(&s.coord),
            Some(json!({"ids": ids})),
        )
    };
    let got = approve(json!([ids[0], ids[1]])).await;
    assert_eq!(got.0, 200, "{}", got.2);
    assert_eq!(
        (got.2["approved"].as_u64(), got.2["unchanged"].as_u64()),
        (Some(2), Some(0))
    );
    let got = approve(json!([ids[0]])).await;
    assert_eq!(
        (got.2["approved"].as_u64(), got.2["unchanged"].as_u64()),
        (Some(0), Some(1))
    );
    // All or nothing: an unknown id fails the whole request.
    let got = approve(json!([ids[2], uuid::Uuid::now_v7()])).await;
    assert_problem(&got, 404, "not_found");
    assert_problem(&approve(json!([])).await, 422, "validation_failed");

    let reject = |id: &str, body: Value| {
        let path = format!("/api/v1/attendance/{id}/reject");
        let (app, token) = (&app, s.coord.clone());
        async move { app.call("POST", &path, Some(&token), Some(body)).await }
    };
    assert_problem(
        &reject(&ids[2], json!({"reason": "  "})).await,
        422,
        "validation_failed",
    );
    let got = reject(&ids[2], json!({"reason": "was not there"})).await;
    assert_eq!(got.0, 200, "{}", got.2);
    assert_eq!(got.2["approval"], "rejected");
    assert_eq!(got.2["rejection_reason"], "was not there");
    assert_eq!(got.2["decided_by"], s.coordinator.id.to_string());
    assert_problem(&approve(json!([ids[2]])).await, 409, "already_rejected");
    let (_, _, queue) = app
        .get_as(&s.coord, "/api/v1/attendance?approval=pending")
        .await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 0, "{queue}");

    // Each decision queues its email to the employee.
    let mails: Vec<String> = tomoni::db::schema::outbox::table
        .select(tomoni::db::schema::outbox::kind)
        .filter(tomoni::db::schema::outbox::kind.like("hours_%"))
        .order(tomoni::db::schema::outbox::created_at)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(
        mails,
        ["hours_approved", "hours_approved", "hours_rejected"]
    );

    // Rejecting approved hours and changing approved hours are both audited with before/after.
    let got = reject(&ids[1], json!({"reason": "duplicate entry"})).await;
    assert_eq!(got.2["approval"], "rejected");
    let line = json!([{"user_id": people[0].id.to_string(), "status": "attended", "minutes": 60}]);
    let (status, _, changed) = mark(&app, &s.coord, &ev, line).await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["updated"], 1);
    assert_eq!(
        changed["items"][0]["approval"], "pending",
        "a changed record is approved again"
    );
    let audits: Vec<(String, Option<String>, String)> = audit_log::table
        .filter(audit_log::entity_type.eq("attendance"))
        .select((audit_log::action, audit_log::entity_id, audit_log::details))
        .order(audit_log::occurred_at)
        .load(&mut app.conn())
        .unwrap();
    let change = audits
        .iter()
        .find(|a| a.0 == "attendance.change")
        .expect("change audited");
    assert_eq!(change.1.as_deref(), Some(ids[0].as_str()));
    let details: Value = serde_json::from_str(&change.2).unwrap();
    assert_eq!(details["before"]["minutes"], 180);
    assert_eq!(details["before"]["approval"], "approved");
    assert_eq!(details["after"]["minutes"], 60);
    let rejection = audits
        .iter()
        .find(|a| a.0 == "attendance.reject" && a.1.as_deref() == Some(ids[1].as_str()))
        .expect("rejection audited");
    let details: Value = serde_json::from_str(&rejection.2).unwrap();
    assert_eq!(details["before"]["approval"], "approved");
    assert!(audits.iter().any(|a| a.0 == "attendance.approve"));
}

async fn roster_entries_within_the_event_length_can_be_auto_approved(backend: Backend) {
    let db = common::TestDb::new(&backend);
    let mut settings = db.settings();
    settings.attendance.auto_approve_roster = true;
    let app = TestApp::spawn_with(db, settings).await;
    let s = setup(&app).await;
    let (ev, people) = past_event(&app, &s, 2).await;
    let lines = json!([
        {"user_id": people[0].id.to_string(), "status": "attended"},
        {"user_id": people[1].id.to_string(), "status": "attended", "minutes": 240},
        {"user_id": s.coordinator.id.to_string(), "status": "attended"},
    ]);
    let (status, _, done) = mark(&app, &s.coord, &ev, lines).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        done["items"][0]["approval"], "approved",
        "within the 3 hours"
    );
    assert_eq!(done["items"][0]["decided_by"], s.coordinator.id.to_string());
    assert_eq!(
        done["items"][1]["approval"], "pending",
        "longer than the event"
    );
    assert_eq!(
        done["items"][2]["approval"], "pending",
        "the coordinator's own"
    );
}

/// An event starting in 30 minutes (check-in open) with the coordinator's code.
/// A zone in which `start .. start + hours` stays on one local day (so the defaults the tests
/// expect are those of a one-day event, whatever the time the test runs).
fn one_day_zone(start: DateTime<Utc>, hours: i64) -> &'static str {
    [
        "Asia/Tokyo",
        "UTC",
        "America/New_York",
        "Pacific/Honolulu",
        "Pacific/Kiritimati",
    ]
    .into_iter()
    .find(|tz| {
        let zone: chrono_tz::Tz = tz.parse().unwrap();
        let end = start + Duration::hours(hours) - Duration::seconds(1);
        start.with_timezone(&zone).date_naive() == end.with_timezone(&zone).date_naive()
    })
    .unwrap()
}

async fn event_about_to_start(app: &TestApp, s: &Setup, capacity: Value) -> (String, String) {
    let start = Utc::now() + Duration::minutes(30);
    let ev = event_in(app, s, start, 2, capacity, one_day_zone(start, 2)).await;
    let (status, _, code) = app
        .get_as(&s.coord, &format!("/api/v1/events/{ev}/check-in-code"))
        .await;
    assert_eq!(status, 200, "{code}");
    (ev, code["code"].as_str().unwrap().to_owned())
}

async fn check_in(app: &TestApp, user: &TestUser, event: &str, code: &str) -> (u16, String, Value) {
    app.call(
        "POST",
        &format!("/api/v1/events/{event}/check-in"),
        Some(&app.token(user)),
        Some(json!({ "code": code })),
    )
    .await
}

async fn check_in_with_the_code_creates_one_pending_attendance(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let (ev, code) = event_about_to_start(&app, &s, json!(10)).await;
    let emp = app.employees(1, Some(s.site)).remove(0);
    let signup = app.sign_up(&emp, &ev).await;

    assert_problem(
        &check_in(&app, &emp, &ev, "WRONGCOD").await,
        422,
        "wrong_check_in_code",
    );
    let typed = format!("{}-{}", &code[..4], &code[4..]).to_lowercase();
    let (status, _, first) = check_in(&app, &emp, &ev, &typed).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["source"], "check_in");
    assert_eq!(first["approval"], "pending");
    assert_eq!(first["minutes"], 120);
    assert_eq!(first["signup_id"], signup["id"]);
    let (status, _, again) = check_in(&app, &emp, &ev, &code).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(attendance_rows(&app, &ev).len(), 1);

    // The QR code, and a rotated code replaces the old one.
    let mut res = app
        .client()
        .get(app.url(&format!("/api/v1/events/{ev}/check-in-code?format=svg")))
        .insert_header(("Authorization", format!("Bearer {}", s.coord)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers().get("content-type").unwrap(), "image/svg+xml");
    let svg = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    assert!(svg.contains("<svg") && svg.contains("<path"), "{svg}");
    let got = app
        .get_as(
            &s.coord,
            &format!("/api/v1/events/{ev}/check-in-code?format=png"),
        )
        .await;
    assert_problem(&got, 400, "invalid_query");
    let (status, _, rotated) = app
        .call(
            "POST",
            &format!("/api/v1/events/{ev}/check-in-code"),
            Some(&s.coord),
            None,
        )
        .await;
    assert_eq!(status, 200, "{rotated}");
    assert_ne!(rotated["code"], code.as_str());
    let late = app.employees(1, Some(s.site)).remove(0);
    app.sign_up(&late, &ev).await;
    assert_problem(
        &check_in(&app, &late, &ev, &code).await,
        422,
        "wrong_check_in_code",
    );
    let got = check_in(&app, &late, &ev, rotated["code"].as_str().unwrap()).await;
    assert_eq!(got.0, 201, "{}", got.2);
}

async fn check_in_only_inside_its_window(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let emp = app.employees(1, Some(s.site)).remove(0);
    let later = event(&app, &s, Utc::now() + Duration::hours(3), 2, json!(null)).await;
    app.sign_up(&emp, &later).await;
    let (_, _, code) = app
        .get_as(&s.coord, &format!("/api/v1/events/{later}/check-in-code"))
        .await;
    let code = code["code"].as_str().unwrap().to_owned();
    let got = check_in(&app, &emp, &later, &code).await;
    let body = assert_problem(&got, 409, "check_in_not_open");
    assert!(
        body["detail"].as_str().unwrap().contains("opens at"),
        "{body}"
    );
    shift(&app, &later, Utc::now() - Duration::hours(3), 2);
    assert_problem(
        &check_in(&app, &emp, &later, &code).await,
        409,
        "check_in_closed",
    );
    assert!(attendance_rows(&app, &later).is_empty());
}

async fn walk_ins_take_free_seats_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let people = app.employees(3, Some(s.site));
    let (ev, code) = event_about_to_start(&app, &s, json!(2)).await;
    app.sign_up(&people[0], &ev).await;
    let (status, _, walk_in) = check_in(&app, &people[1], &ev, &code).await;
    assert_eq!(status, 201, "{walk_in}");
    assert!(
        walk_in["signup_id"].is_string(),
        "a walk-in gets a confirmed sign-up"
    );
    let (_, _, event) = app.get_as(&s.coord, &format!("/api/v1/events/{ev}")).await;
    assert_eq!(event["seats_taken"], 2);
    assert_problem(
        &check_in(&app, &people[2], &ev, &code).await,
        409,
        "event_full",
    );

    let db = common::TestDb::new(&backend_of(&app));
    let mut settings = db.settings();
    settings.attendance.allow_walk_ins = false;
    let strict = TestApp::spawn_with(db, settings).await;
    let s2 = setup(&strict).await;
    let (ev2, code2) = event_about_to_start(&strict, &s2, json!(null)).await;
    let stranger = strict.employees(1, Some(s2.site)).remove(0);
    assert_problem(
        &check_in(&strict, &stranger, &ev2, &code2).await,
        409,
        "not_signed_up",
    );
}

fn backend_of(app: &TestApp) -> Backend {
    app.db.backend.clone()
}

async fn a_hundred_simultaneous_check_ins_make_a_hundred_records(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let (ev, code) = event_about_to_start(&app, &s, json!(150)).await;
    let people = app.employees(100, Some(s.site));
    // Half signed up, half walking in.
    for p in &people[..50] {
        app.sign_up(p, &ev).await;
    }
    let results = join_all(people.iter().map(|p| check_in(&app, p, &ev, &code))).await;
    let created = results.iter().filter(|r| r.0 == 201).count();
    assert_eq!(created, 100, "{:?}", results.iter().find(|r| r.0 != 201));
    let again = join_all(people.iter().map(|p| check_in(&app, p, &ev, &code))).await;
    assert!(
        again.iter().all(|r| r.0 == 200),
        "{:?}",
        again.iter().find(|r| r.0 != 200)
    );
    let rows = attendance_rows(&app, &ev);
    assert_eq!(rows.len(), 100);
    let mut users: Vec<Id> = rows.iter().map(|r| r.0).collect();
    users.sort();
    users.dedup();
    assert_eq!(users.len(), 100, "no duplicates");
    let (_, _, event) = app.get_as(&s.coord, &format!("/api/v1/events/{ev}")).await;
    assert_eq!(
        event["seats_taken"], 100,
        "each walk-in took exactly one seat"
    );
}

async fn my_hours_total_approved_time_per_fiscal_year(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let emp = app.employees(1, Some(s.site)).remove(0);
    let approver = app.coordinator(&[s.site]);
    // 31 March 2025 22:00-24:00 in Tokyo (13:00 UTC) is fiscal 2025; 1 April 2025 10:00 is fiscal 2026.
    let march = Utc.with_ymd_and_hms(2025, 3, 31, 13, 0, 0).unwrap();
    let april = Utc.with_ymd_and_hms(2025, 4, 1, 1, 0, 0).unwrap();
    let mut ids = Vec::new();
    for (start, minutes) in [(march, 60), (april, 90), (april + Duration::days(7), 30)] {
        let ev = event(&app, &s, Utc::now() + Duration::days(3), 2, json!(null)).await;
        shift(&app, &ev, start, 2);
        let (status, _, done) = mark(
            &app,
            &s.coord,
            &ev,
            json!([{"user_id": emp.id.to_string(), "status": "attended", "minutes": minutes}]),
        )
        .await;
        assert_eq!(status, 200, "{done}");
        ids.push(done["items"][0]["id"].as_str().unwrap().to_owned());
    }
    let got = app
        .call(
            "POST",
            "/api/v1/attendance/approve",
            Some(&app.token(&approver)),
            Some(json!({"ids": [ids[0], ids[1]]})),
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.2);
    let token = app.token(&emp);
    let (status, _, mine) = app.get_as(&token, "/api/v1/me/hours").await;
    assert_eq!(status, 200, "{mine}");
    assert_eq!(mine["fiscal_year_start_month"], 4);
    assert_eq!(
        mine["totals"],
        json!([
            {"fiscal_year": 2026, "events": 1, "minutes": 90, "hours": 1.5, "days": 1, "pending_minutes": 30},
            {"fiscal_year": 2025, "events": 1, "minutes": 60, "hours": 1.0, "days": 1, "pending_minutes": 0},
        ])
    );
    assert_eq!(mine["items"].as_array().unwrap().len(), 3);
    assert_eq!(mine["items"][2]["fiscal_year"], 2025);
    assert_eq!(mine["items"][2]["starts_at"], "2025-03-31T22:00:00+09:00");
    let (_, _, fy25) = app
        .get_as(&token, "/api/v1/me/hours?fiscal_year=2025")
        .await;
    assert_eq!(fy25["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        fy25["totals"].as_array().unwrap().len(),
        2,
        "totals cover every year"
    );
    assert_problem(
        &app.get_as(&token, "/api/v1/me/hours?fiscal_year=99999")
            .await,
        400,
        "invalid_query",
    );
    // The same items as a file, the employee's one export.
    let mut res = app
        .client()
        .get(app.url("/api/v1/me/hours?format=csv&bom=true"))
        .insert_header(("Authorization", format!("Bearer {token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let csv = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    let csv = csv.strip_prefix('\u{feff}').expect("a BOM for Excel");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("event_date,starts_at,fiscal_year,event_title"));
    assert!(
        lines[3].starts_with(
            "2025-03-31,2025-03-31T22:00:00+09:00,2025,Beach clean-up,Site A,attended,60,1,1,approved"
        ),
        "site-local, with the offset: {csv}"
    );
    assert_problem(
        &app.get_as(&token, "/api/v1/me/hours?format=xml").await,
        400,
        "invalid_query",
    );
    // Someone else's hours are not in the caller's answer.
    let (_, _, other) = app.get_as(&app.token(&approver), "/api/v1/me/hours").await;
    assert_eq!(other["items"].as_array().unwrap().len(), 0);
}

fn finding<'a>(report: &'a Value, check: &str) -> &'a Value {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} in {report}"))
}

async fn quality_report_finds_each_kind_of_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let people = app.employees(3, Some(s.site));
    let line = |p: &TestUser, minutes: i64| json!({"user_id": p.id.to_string(), "status": "attended", "minutes": minutes});
    // Fiscal 2021 (closed): two overlapping events on 10 June 2020, 10:00-13:00 and 12:00-14:00 Tokyo.
    let day = Utc.with_ymd_and_hms(2020, 6, 10, 1, 0, 0).unwrap();
    let first = event(&app, &s, Utc::now() + Duration::days(3), 3, json!(1)).await;
    app.sign_up(&people[0], &first).await;
    shift(&app, &first, day, 3);
    let second = event(&app, &s, Utc::now() + Duration::days(3), 2, json!(null)).await;
    shift(&app, &second, day + Duration::hours(2), 2);
    let quiet = event(&app, &s, Utc::now() + Duration::days(3), 2, json!(null)).await;
    shift(&app, &quiet, day + Duration::days(30), 2);
    // first: people[0] (signed up) 200 minutes (> 3 h), people[1] without a sign-up (over capacity 1).
    let got = mark(
        &app,
        &s.coord,
        &first,
        json!([line(&people[0], 200), line(&people[1], 180)]),
    )
    .await;
    assert_eq!(got.0, 200, "{}", got.2);
    // second: people[0] again (overlap), left pending in a closed year.
    let got = mark(&app, &s.coord, &second, json!([line(&people[0], 60)])).await;
    assert_eq!(got.0, 200, "{}", got.2);
    let approver = app.token(&app.coordinator(&[s.site]));
    let ids: Vec<Value> = attendance::table
        .inner_join(events::table)
        .filter(events::id.eq(first.parse::<Id>().unwrap()))
        .select(attendance::id)
        .load::<Id>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|id| json!(id.to_string()))
        .collect();
    let got = app
        .call(
            "POST",
            "/api/v1/attendance/approve",
            Some(&approver),
            Some(json!({"ids": ids})),
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.2);
    // More than 24 h a day can only come from outside the API (an old import): write it directly.
    let imported = app.employees(1, Some(s.site)).remove(0);
    let rec = tomoni::attendance::model::insert(
        &mut app.conn(),
        &tomoni::attendance::model::NewAttendance {
            event: second.parse().unwrap(),
            user: imported.id,
            signup: None,
            status: tomoni::attendance::model::AttendanceStatus::Attended,
            minutes: 1500,
            days: 1,
            source: tomoni::attendance::model::Source::Import,
            approved_by: None,
            recorded_by: imported.id,
        },
    )
    .unwrap();

    let (status, _, report) = app
        .get_as(&s.coord, "/api/v1/quality?fiscal_year=2021")
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["from"], "2020-04-01");
    assert_eq!(report["to"], "2021-03-31");
    assert_eq!(report["events"], 3);
    assert_eq!(report["records"], 4);
    let count = |check: &str| finding(&report, check)["count"].as_u64().unwrap();
    let samples = |check: &str| finding(&report, check)["sample_ids"].clone();
    assert_eq!(count("over_24h_a_day"), 1);
    assert_eq!(samples("over_24h_a_day"), json!([rec.to_string()]));
    assert_eq!(finding(&report, "over_24h_a_day")["severity"], "error");
    assert_eq!(
        count("hours_longer_than_event"),
        2,
        "200 min in a 3 h event, 1500 min in a 2 h one"
    );
    assert_eq!(
        count("attended_without_signup"),
        2,
        "the roster walk-in; the import is not counted"
    );
    assert_eq!(count("attended_over_capacity"), 1);
    assert_eq!(samples("attended_over_capacity"), json!([first]));
    assert_eq!(
        count("overlapping_attendance"),
        2,
        "both records of the clash"
    );
    assert_eq!(count("pending_in_closed_year"), 2);
    assert_eq!(count("past_event_without_attendance"), 1);
    assert_eq!(samples("past_event_without_attendance"), json!([quiet]));

    // Another year is clean; another site's coordinator sees nothing of site A.
    let (_, _, empty) = app
        .get_as(&s.coord, "/api/v1/quality?fiscal_year=2019")
        .await;
    assert!(
        empty["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["count"] == 0),
        "{empty}"
    );
    let other = app.token(&app.coordinator(&[app.site("B")]));
    let (_, _, theirs) = app.get_as(&other, "/api/v1/quality?fiscal_year=2021").await;
    assert_eq!(theirs["events"], 0);
    assert_problem(
        &app.get_as(
            &other,
            &format!("/api/v1/quality?fiscal_year=2021&site_id={}", s.site),
        )
        .await,
        403,
        "forbidden",
    );
    assert_problem(
        &app.get_as(&app.token(&people[0]), "/api/v1/quality").await,
        403,
        "forbidden",
    );
    let hr = app.token(&app.user(Role::Hr, None));
    let (_, _, all) = app
        .get_as(&hr, "/api/v1/quality?fiscal_year=2021&region=domestic")
        .await;
    assert_eq!(all["events"], 3);
}

/// Guessing an event's check-in code is limited per employee and event: past the burst
/// (`attendance.check_in_attempt_burst`, 10) every attempt, right or wrong, answers 429 with
/// Retry-After, while another employee of the same event still checks in.
async fn check_in_guesses_are_limited(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let (ev, code) = event_about_to_start(&app, &s, json!(10)).await;
    let mut people = app.employees(2, Some(s.site));
    let (guesser, other) = (people.remove(0), people.remove(0));
    app.sign_up(&guesser, &ev).await;
    app.sign_up(&other, &ev).await;
    let mut answers = Vec::new();
    for n in 0..30 {
        answers.push(
            check_in(&app, &guesser, &ev, &format!("WRONG{n:03}"))
                .await
                .0,
        );
    }
    assert!(answers[..10].iter().all(|s| *s == 422), "{answers:?}");
    assert!(answers[10..].iter().all(|s| *s == 429), "{answers:?}");
    let limited = check_in(&app, &guesser, &ev, &code).await;
    let problem = assert_problem(&limited, 429, "too_many_attempts");
    assert!(
        problem["detail"].as_str().unwrap().contains("retry in"),
        "{problem}"
    );
    let (status, _, record) = check_in(&app, &other, &ev, &code).await;
    assert_eq!(status, 201, "another employee is not limited: {record}");
}

both_backends!(
    a_past_three_day_trip_is_recorded_with_its_person_days,
    an_event_whose_signup_has_closed_cannot_be_published,
    check_in_guesses_are_limited,
    roster_marking_records_defaults_and_is_idempotent,
    an_event_with_attendance_cannot_be_cancelled,
    invalid_roster_lines_are_named_and_nothing_is_written,
    attendance_is_refused_for_future_cancelled_and_draft_events,
    only_the_sites_coordinators_mark_and_approve,
    nobody_approves_their_own_hours,
    approval_rejection_and_audited_changes,
    roster_entries_within_the_event_length_can_be_auto_approved,
    check_in_with_the_code_creates_one_pending_attendance,
    check_in_only_inside_its_window,
    walk_ins_take_free_seats_only,
    a_hundred_simultaneous_check_ins_make_a_hundred_records,
    my_hours_total_approved_time_per_fiscal_year,
    quality_report_finds_each_kind_of_problem,
);
