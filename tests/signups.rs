//! Programmes, events and sign-ups: capacity that never overbooks, a fair waitlist, rosters.

mod common;

use chrono::{Duration, Utc};
use common::{Backend, TestApp, TestUser, assert_problem};
use futures_util::future::join_all;
use serde_json::{Value, json};
use tomoni::auth::Role;

/// A site with a coordinator and a programme.
struct Setup {
    site: tomoni::db::Id,
    coordinator: TestUser,
    coord_token: String,
    program: String,
}

async fn setup(app: &TestApp) -> Setup {
    let site = app.site("A");
    let coordinator = app.coordinator(&[site]);
    let coord_token = app.token(&coordinator);
    let program = app
        .program(&coord_token, site, json!({"categories": ["biodiversity"]}))
        .await;
    Setup {
        site,
        coordinator,
        coord_token,
        program,
    }
}

/// A published event starting in `days` days, lasting 3 hours.
async fn event(app: &TestApp, s: &Setup, days: i64, capacity: Value, waitlist: bool) -> String {
    let fields =
        json!({"capacity": capacity, "waitlist_enabled": waitlist, "location": "Shonan beach"});
    app.published_event(
        &s.coord_token,
        &s.program,
        Utc::now() + Duration::days(days),
        3,
        fields,
    )
    .await
}

async fn roster(app: &TestApp, s: &Setup, event: &str) -> Vec<Value> {
    let (status, _, r) = app
        .get_as(&s.coord_token, &format!("/api/v1/events/{event}/roster"))
        .await;
    assert_eq!(status, 200, "{r}");
    r.as_array().unwrap().clone()
}

/// A 409 `overlapping_signup` that names the clashing event.
fn assert_clashes_with(got: &(u16, String, Value), title: &str) {
    let problem = assert_problem(got, 409, "overlapping_signup");
    assert!(
        problem["detail"].as_str().unwrap().contains(title),
        "{problem}"
    );
}

/// Confirmed ≤ capacity, the counters match the rows, and waitlist positions are 1..n.
async fn assert_consistent(app: &TestApp, s: &Setup, event: &str) -> (usize, usize) {
    let entries = roster(app, s, event).await;
    let confirmed = entries
        .iter()
        .filter(|e| e["status"] == "confirmed")
        .count();
    let mut positions: Vec<i64> = entries
        .iter()
        .filter(|e| e["status"] == "waitlisted")
        .map(|e| e["waitlist_position"].as_i64().unwrap())
        .collect();
    positions.sort();
    let expected: Vec<i64> = (1..=positions.len() as i64).collect();
    assert_eq!(positions, expected, "waitlist is gap-free and starts at 1");
    let (_, _, ev) = app
        .get_as(&s.coord_token, &format!("/api/v1/events/{event}"))
        .await;
    assert_eq!(
        ev["seats_taken"].as_u64().unwrap() as usize,
        confirmed,
        "taken counter = confirmed rows"
    );
    assert_eq!(
        ev["waitlist_length"].as_u64().unwrap() as usize,
        positions.len(),
        "waitlist counter = rows"
    );
    if let Some(cap) = ev["capacity"].as_u64() {
        assert!(
            confirmed as u64 <= cap,
            "never overbooked: {confirmed} > {cap}"
        );
    }
    (confirmed, positions.len())
}

async fn two_hundred_simultaneous_signups_fill_fifty_seats_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let ev = event(&app, &s, 7, json!(50), true).await;
    let people = app.employees(200, Some(s.site));
    let tokens: Vec<String> = people.iter().map(|p| app.token(p)).collect();
    let path = format!("/api/v1/events/{ev}/signups");
    let results = join_all(
        tokens
            .iter()
            .map(|t| app.call("POST", &path, Some(t), Some(json!({})))),
    )
    .await;
    let mut confirmed = 0;
    let mut positions = Vec::new();
    for (status, _, body) in &results {
        assert_eq!(*status, 201, "{body}");
        match body["status"].as_str().unwrap() {
            "confirmed" => confirmed += 1,
            "waitlisted" => positions.push(body["waitlist_position"].as_i64().unwrap()),
            other => panic!("unexpected {other}"),
        }
    }
    positions.sort();
    assert_eq!(confirmed, 50);
    assert_eq!(
        positions,
        (1..=150).collect::<Vec<i64>>(),
        "positions 1..150, each once"
    );
    assert_eq!(assert_consistent(&app, &s, &ev).await, (50, 150));
}

/// Cancellations and new sign-ups at the same time: afterwards confirmed ≤ capacity, the
/// waitlist is gap-free, and the counters agree with the rows.
async fn concurrent_cancellations_and_signups_keep_the_invariants(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let ev = event(&app, &s, 7, json!(20), true).await;
    let first = app.employees(40, Some(s.site));
    let path = format!("/api/v1/events/{ev}/signups");
    let mut signups = Vec::new();
    for p in &first {
        let (status, _, body) = app
            .call("POST", &path, Some(&app.token(p)), Some(json!({})))
            .await;
        assert_eq!(status, 201);
        signups.push((app.token(p), body["id"].as_str().unwrap().to_owned()));
    }
    let newcomers = app.employees(30, Some(s.site));
    let newcomer_tokens: Vec<String> = newcomers.iter().map(|p| app.token(p)).collect();
    // Every other of the first 40 cancels (confirmed and waitlisted alike) while 30 more sign up.
    let cancels: Vec<(String, String)> = signups
        .iter()
        .step_by(2)
        .map(|(t, id)| (t.clone(), format!("/api/v1/signups/{id}")))
        .collect();
    let mut calls = Vec::new();
    for (token, cancel_path) in &cancels {
        calls.push(app.call("DELETE", cancel_path, Some(token), None));
    }
    for token in &newcomer_tokens {
        calls.push(app.call("POST", &path, Some(token), Some(json!({}))));
    }
    let results = join_all(calls).await;
    for (status, _, body) in &results {
        assert!(*status == 200 || *status == 201, "{status} {body}");
    }
    // 40 - 20 cancelled + 30 = 50 live sign-ups: 20 seats, 30 in line.
    assert_eq!(assert_consistent(&app, &s, &ev).await, (20, 30));
}

async fn freed_seats_go_to_the_head_of_the_line(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let ev = event(&app, &s, 7, json!(2), true).await;
    let people = app.employees(5, Some(s.site));
    let path = format!("/api/v1/events/{ev}/signups");
    let mut ids = Vec::new();
    for p in &people {
        let (_, _, body) = app
            .call("POST", &path, Some(&app.token(p)), Some(json!({})))
            .await;
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    // 0,1 confirmed; 2,3,4 waitlisted at 1,2,3. Person 0 cancels: person 2 moves up.
    let (status, _, cancelled) = app
        .call(
            "DELETE",
            &format!("/api/v1/signups/{}", ids[0]),
            Some(&app.token(&people[0])),
            None,
        )
        .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    let status_of = |r: &[Value], id: &str| {
        let e = r.iter().find(|e| e["signup_id"] == id).unwrap();
        (
            e["status"].as_str().unwrap().to_owned(),
            e["waitlist_position"].as_i64(),
        )
    };
    let r = roster(&app, &s, &ev).await;
    assert_eq!(status_of(&r, &ids[2]), ("confirmed".into(), None));
    assert_eq!(status_of(&r, &ids[3]), ("waitlisted".into(), Some(1)));
    assert_eq!(status_of(&r, &ids[4]), ("waitlisted".into(), Some(2)));
    // Person 3 (first in line) leaves the line: person 4 closes up.
    app.call(
        "DELETE",
        &format!("/api/v1/signups/{}", ids[3]),
        Some(&app.token(&people[3])),
        None,
    )
    .await;
    let r = roster(&app, &s, &ev).await;
    assert_eq!(status_of(&r, &ids[4]), ("waitlisted".into(), Some(1)));
    let again = app
        .call(
            "DELETE",
            &format!("/api/v1/signups/{}", ids[3]),
            Some(&app.token(&people[3])),
            None,
        )
        .await;
    assert_problem(&again, 409, "already_cancelled");

    // Raising the capacity promotes as many as fit; lowering below the taken seats is refused.
    let more = app.employees(3, Some(s.site));
    for p in &more {
        app.call("POST", &path, Some(&app.token(p)), Some(json!({})))
            .await;
    }
    assert_eq!(assert_consistent(&app, &s, &ev).await, (2, 4));
    let (status, _, e) = app
        .call(
            "PATCH",
            &format!("/api/v1/events/{ev}"),
            Some(&s.coord_token),
            Some(json!({"capacity": 5})),
        )
        .await;
    assert_eq!(status, 200, "{e}");
    assert_eq!(assert_consistent(&app, &s, &ev).await, (5, 1));
    let lower = app
        .call(
            "PATCH",
            &format!("/api/v1/events/{ev}"),
            Some(&s.coord_token),
            Some(json!({"capacity": 3})),
        )
        .await;
    assert_problem(&lower, 409, "capacity_below_taken");
    let unlimited = app
        .call(
            "PATCH",
            &format!("/api/v1/events/{ev}"),
            Some(&s.coord_token),
            Some(json!({"capacity": null})),
        )
        .await;
    assert_eq!(unlimited.2["seats_free"], Value::Null);
    assert_eq!(assert_consistent(&app, &s, &ev).await, (6, 0));

    // Cancelling the event cancels every live sign-up.
    let (status, _, cancelled) = app
        .call(
            "POST",
            &format!("/api/v1/events/{ev}/cancel"),
            Some(&s.coord_token),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(cancelled["status"], "cancelled");
    let r = roster(&app, &s, &ev).await;
    assert!(r.iter().all(|e| e["status"] == "cancelled"), "{r:?}");
    let late = app
        .call(
            "POST",
            &path,
            Some(&app.token(&app.employees(1, None)[0])),
            Some(json!({})),
        )
        .await;
    assert_problem(&late, 409, "event_not_open");
}

async fn sign_up_rules_are_enforced(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let ev = event(&app, &s, 3, json!(1), false).await;
    let same_time = event(&app, &s, 3, Value::Null, true).await;
    let people = app.employees(2, Some(s.site));
    let (a, b) = (app.token(&people[0]), app.token(&people[1]));
    let path = |e: &str| format!("/api/v1/events/{e}/signups");

    let (status, _, first) = app
        .call("POST", &path(&ev), Some(&a), Some(json!({})))
        .await;
    assert_eq!((status, first["status"].as_str()), (201, Some("confirmed")));
    assert_problem(
        &app.call("POST", &path(&ev), Some(&a), Some(json!({})))
            .await,
        409,
        "already_signed_up",
    );
    assert_problem(
        &app.call("POST", &path(&ev), Some(&b), Some(json!({})))
            .await,
        409,
        "event_full",
    );
    let clash = app
        .call("POST", &path(&same_time), Some(&a), Some(json!({})))
        .await;
    assert_clashes_with(&clash, "Beach clean-up");
    // An employee cannot force, nor sign up someone else.
    assert_problem(
        &app.call(
            "POST",
            &path(&same_time),
            Some(&a),
            Some(json!({"force": true})),
        )
        .await,
        403,
        "forbidden",
    );
    let other = json!({"user_id": people[0].id.to_string()});
    assert_problem(
        &app.call("POST", &path(&same_time), Some(&b), Some(other.clone()))
            .await,
        403,
        "forbidden",
    );
    // The site's coordinator can do both.
    let forced = app
        .call(
            "POST",
            &path(&same_time),
            Some(&s.coord_token),
            Some(json!({"user_id": people[0].id.to_string(), "force": true})),
        )
        .await;
    assert_eq!(forced.0, 201, "{}", forced.2);
    assert_eq!(forced.2["forced"], true);
    assert_eq!(forced.2["created_by"], s.coordinator.id.to_string());
    // Signed up for both overlapping events now: another try at one of them is a duplicate,
    // not an overlap (the duplicate is looked for first).
    assert_problem(
        &app.call("POST", &path(&same_time), Some(&a), Some(json!({})))
            .await,
        409,
        "already_signed_up",
    );
    // On someone's behalf: the person must exist and be active.
    let on_behalf = |user: String| json!({"user_id": user});
    assert_problem(
        &app.call(
            "POST",
            &path(&same_time),
            Some(&s.coord_token),
            Some(on_behalf(uuid::Uuid::now_v7().to_string())),
        )
        .await,
        404,
        "not_found",
    );
    {
        use diesel::prelude::*;
        use tomoni::db::schema::users;
        diesel::update(users::table.filter(users::id.eq(people[1].id)))
            .set(users::active.eq(false))
            .execute(&mut app.conn())
            .unwrap();
    }
    assert_problem(
        &app.call(
            "POST",
            &path(&same_time),
            Some(&s.coord_token),
            Some(on_behalf(people[1].id.to_string())),
        )
        .await,
        409,
        "user_inactive",
    );

    // Drafts are invisible to employees.
    let start = (Utc::now() + Duration::days(9)).to_rfc3339();
    let end = (Utc::now() + Duration::days(9) + Duration::hours(1)).to_rfc3339();
    let (_, _, draft) = app
        .call(
            "POST",
            "/api/v1/events",
            Some(&s.coord_token),
            Some(json!({"program_id": s.program, "starts_at": start, "ends_at": end})),
        )
        .await;
    let draft_id = draft["id"].as_str().unwrap();
    assert_problem(
        &app.call("POST", &path(draft_id), Some(&a), Some(json!({})))
            .await,
        404,
        "not_found",
    );
    assert_problem(
        &app.get_as(&a, &format!("/api/v1/events/{draft_id}")).await,
        404,
        "not_found",
    );
    assert_problem(
        &app.call(
            "POST",
            &path(draft_id),
            Some(&s.coord_token),
            Some(json!({})),
        )
        .await,
        409,
        "event_not_open",
    );
}

async fn deadlines_close_sign_up_and_self_cancellation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let start = Utc::now() + Duration::days(2);
    let (_, _, ev) = app
        .call(
            "POST",
            "/api/v1/events",
            Some(&s.coord_token),
            Some(
                json!({"program_id": s.program, "starts_at": start.to_rfc3339(),
                        "ends_at": (start + Duration::hours(2)).to_rfc3339(), "capacity": 10,
                        "cancel_deadline": (Utc::now() - Duration::hours(1)).to_rfc3339()}),
            ),
        )
        .await;
    let ev = ev["id"].as_str().unwrap().to_owned();
    app.call(
        "POST",
        &format!("/api/v1/events/{ev}/publish"),
        Some(&s.coord_token),
        None,
    )
    .await;
    let person = &app.employees(1, Some(s.site))[0];
    let token = app.token(person);
    let (_, _, signup) = app
        .call(
            "POST",
            &format!("/api/v1/events/{ev}/signups"),
            Some(&token),
            Some(json!({})),
        )
        .await;
    let id = signup["id"].as_str().unwrap();
    let late = app
        .call(
            "DELETE",
            &format!("/api/v1/signups/{id}"),
            Some(&token),
            None,
        )
        .await;
    assert_problem(&late, 409, "cancel_closed");
    let by_coordinator = app
        .call(
            "DELETE",
            &format!("/api/v1/signups/{id}"),
            Some(&s.coord_token),
            None,
        )
        .await;
    assert_eq!(by_coordinator.0, 200, "coordinators cancel at any time");

    // A closed sign-up deadline.
    app.call(
        "PATCH",
        &format!("/api/v1/events/{ev}"),
        Some(&s.coord_token),
        Some(json!({"signup_deadline": (Utc::now() - Duration::minutes(5)).to_rfc3339()})),
    )
    .await;
    let other = app.token(&app.employees(1, Some(s.site))[0]);
    let closed = app
        .call(
            "POST",
            &format!("/api/v1/events/{ev}/signups"),
            Some(&other),
            Some(json!({})),
        )
        .await;
    assert_problem(&closed, 409, "signup_closed");
}

/// Times as people type them: a local date-time without offset is read in the event's zone
/// (the site's, or the one given), every unreadable time is named with the expected form, and
/// the list's date filters take site-local days.
async fn local_times_and_days_are_read_in_the_event_zone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let create = |body: Value| app.call("POST", "/api/v1/events", Some(&s.coord_token), Some(body));
    let (status, _, tokyo) = create(json!({"program_id": s.program,
        "starts_at": "2030-12-01T09:00", "ends_at": "2030-12-01 12:30:00",
        "signup_deadline": "2030-11-30T18:00"}))
    .await;
    assert_eq!(status, 201, "{tokyo}");
    assert_eq!(tokyo["starts_at"], "2030-12-01T09:00:00+09:00");
    assert_eq!(tokyo["ends_at"], "2030-12-01T12:30:00+09:00");
    assert_eq!(tokyo["signup_deadline"], "2030-11-30T18:00:00+09:00");
    assert_eq!(tokyo["timezone"], "Asia/Tokyo", "the answer names the zone");
    let (status, _, paris) = create(json!({"program_id": s.program, "timezone": "Europe/Paris",
        "starts_at": "2030-07-01T09:00", "ends_at": "2030-07-01T12:00"}))
    .await;
    assert_eq!(status, 201, "{paris}");
    assert_eq!(paris["starts_at"], "2030-07-01T09:00:00+02:00");
    let id = tokyo["id"].as_str().unwrap();
    let (status, _, moved) = app
        .call(
            "PATCH",
            &format!("/api/v1/events/{id}"),
            Some(&s.coord_token),
            Some(json!({"starts_at": "2030-12-01T10:00"})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["starts_at"], "2030-12-01T10:00:00+09:00");

    let bad = create(json!({"program_id": s.program, "starts_at": "tomorrow 9am",
        "ends_at": "2030-12-01", "cancel_deadline": "2030-02-30T09:00"}))
    .await;
    let problem = assert_problem(&bad, 422, "validation_failed");
    let named: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        named,
        [
            ("starts_at", "invalid_time"),
            ("ends_at", "invalid_time"),
            ("cancel_deadline", "invalid_time")
        ]
    );
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("2026-12-01T09:00"),
        "the expected form is stated: {problem}"
    );

    // Days are site-local: the Tokyo event starts on 1 December there (30 November in UTC
    // would have been 1 December too; the Paris one is in July).
    for id in [tokyo["id"].as_str().unwrap(), paris["id"].as_str().unwrap()] {
        let got = app
            .call(
                "POST",
                &format!("/api/v1/events/{id}/publish"),
                Some(&s.coord_token),
                None,
            )
            .await;
        assert_eq!(got.0, 200, "{}", got.2);
    }
    let titles = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, _, december) = app
        .get_as(
            &s.coord_token,
            "/api/v1/events?from=2030-12-01&to=2030-12-01",
        )
        .await;
    assert_eq!(status, 200, "{december}");
    assert_eq!(titles(&december), [id.to_owned()]);
    let (_, _, summer) = app
        .get_as(
            &s.coord_token,
            "/api/v1/events?from=2030-06-01&to=2030-11-30",
        )
        .await;
    assert_eq!(titles(&summer), [paris["id"].as_str().unwrap().to_owned()]);
    let refused = app
        .get_as(&s.coord_token, "/api/v1/events?from=2011-01")
        .await;
    let problem = assert_problem(&refused, 400, "invalid_query");
    assert!(
        problem["detail"].as_str().unwrap().contains("2011-01-01"),
        "{problem}"
    );
}

async fn events_are_validated_and_shown_in_the_site_time_zone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let body = |start: &str, end: &str, extra: Value| {
        let mut b = json!({"program_id": s.program, "starts_at": start, "ends_at": end});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let (status, _, ev) = app
        .call(
            "POST",
            "/api/v1/events",
            Some(&s.coord_token),
            Some(body(
                "2030-03-31T14:30:00Z",
                "2030-03-31T18:00:00Z",
                json!({}),
            )),
        )
        .await;
    assert_eq!(status, 201, "{ev}");
    assert_eq!(
        ev["starts_at"], "2030-03-31T23:30:00+09:00",
        "shown at the Tokyo site's offset"
    );
    assert_eq!(ev["timezone"], "Asia/Tokyo");
    assert_eq!(ev["status"], "draft");
    assert_eq!(
        ev["title"], "Beach clean-up",
        "defaults to the programme's title"
    );

    let bad = app
        .call(
            "POST",
            "/api/v1/events",
            Some(&s.coord_token),
            Some(body(
                "2030-04-01T10:00:00Z",
                "2030-04-01T09:00:00Z",
                json!({"capacity": 0,
                "signup_deadline": "2030-04-02T00:00:00Z", "timezone": "Nowhere/Else"}),
            )),
        )
        .await;
    let problem = assert_problem(&bad, 422, "validation_failed");
    let mut fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        ["capacity", "ends_at", "signup_deadline", "timezone"]
    );

    let marathon = app
        .call(
            "POST",
            "/api/v1/events",
            Some(&s.coord_token),
            Some(body(
                "2030-04-01T00:00:00Z",
                "2030-05-15T00:00:00Z",
                json!({}),
            )),
        )
        .await;
    let problem = assert_problem(&marathon, 422, "validation_failed");
    assert_eq!(problem["errors"][0]["code"], "too_long", "{problem}");

    // Another site's coordinator may not add events to this programme.
    let other_site = app.site("B");
    let stranger = app.token(&app.coordinator(&[other_site]));
    let denied = app
        .call(
            "POST",
            "/api/v1/events",
            Some(&stranger),
            Some(body(
                "2030-03-31T14:30:00Z",
                "2030-03-31T18:00:00Z",
                json!({}),
            )),
        )
        .await;
    assert_problem(&denied, 403, "forbidden");
}

async fn the_event_list_filters_and_pages(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let full = event(&app, &s, 1, json!(1), true).await;
    for d in 2..=6 {
        event(&app, &s, d, json!(10), true).await;
    }
    let employee = app.token(&app.employees(1, Some(s.site))[0]);
    app.call(
        "POST",
        &format!("/api/v1/events/{full}/signups"),
        Some(&employee),
        Some(json!({})),
    )
    .await;

    let mut seen = Vec::new();
    let mut path = "/api/v1/events?limit=2".to_owned();
    loop {
        let (status, _, page) = app.get_as(&employee, &path).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["starts_at"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/events?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted, "by start time");

    let count = |v: &Value| v["items"].as_array().unwrap().len();
    assert_eq!(
        count(
            &app.get_as(&employee, "/api/v1/events?free_seats=true")
                .await
                .2
        ),
        5
    );
    assert_eq!(
        count(
            &app.get_as(
                &employee,
                "/api/v1/events?category=biodiversity&theme=nature"
            )
            .await
            .2
        ),
        6
    );
    assert_eq!(
        count(
            &app.get_as(&employee, "/api/v1/events?category=youth")
                .await
                .2
        ),
        0
    );
    assert_eq!(
        count(
            &app.get_as(
                &employee,
                &format!("/api/v1/events?site_id={}&region=domestic", s.site)
            )
            .await
            .2
        ),
        6
    );
    assert_eq!(
        count(&app.get_as(&employee, "/api/v1/events?q=BEACH").await.2),
        6
    );
    let to = (Utc::now() + Duration::hours(60))
        .to_rfc3339()
        .replace('+', "%2B");
    assert_eq!(
        count(
            &app.get_as(&employee, &format!("/api/v1/events?to={to}"))
                .await
                .2
        ),
        2
    );
    let (_, _, first) = app.get_as(&employee, "/api/v1/events?limit=1").await;
    assert_eq!(first["items"][0]["seats_free"], 0);
    assert_eq!(first["items"][0]["seats_taken"], 1);
    assert_problem(
        &app.get_as(&employee, "/api/v1/events?status=draft").await,
        403,
        "forbidden",
    );
    assert_problem(
        &app.get_as(&employee, "/api/v1/events?cursor=nope").await,
        400,
        "invalid_query",
    );

    let (_, _, mine) = app.get_as(&employee, "/api/v1/me/signups").await;
    assert_eq!(count(&mine), 1);
}

async fn rosters_are_for_the_site_and_export_as_csv(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let ev = event(&app, &s, 5, json!(1), true).await;
    let people = app.employees(2, Some(s.site));
    for p in &people {
        app.call(
            "POST",
            &format!("/api/v1/events/{ev}/signups"),
            Some(&app.token(p)),
            Some(json!({})),
        )
        .await;
    }
    let r = roster(&app, &s, &ev).await;
    assert_eq!(r[0]["status"], "confirmed");
    assert_eq!(r[0]["email"], people[0].email);
    assert_eq!(r[1]["status"], "waitlisted");

    let mut res = app
        .client()
        .get(app.url(&format!("/api/v1/events/{ev}/roster?format=csv&bom=true")))
        .insert_header(("Authorization", format!("Bearer {}", s.coord_token)))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    let csv = csv.strip_prefix('\u{feff}').expect("a BOM for Excel");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("status,waitlist_position,employee_number"));
    assert!(lines[1].starts_with("confirmed,,"), "{csv}");
    assert!(lines[2].starts_with("waitlisted,1,"), "{csv}");
    let signed_up = lines[1].split(',').nth(5).unwrap();
    assert!(
        signed_up.ends_with("+09:00"),
        "the event's zone (Tokyo), not UTC: {signed_up}"
    );

    let other = app.token(&app.coordinator(&[app.site("B")]));
    assert_problem(
        &app.get_as(&other, &format!("/api/v1/events/{ev}/roster"))
            .await,
        403,
        "forbidden",
    );
    let employee = app.token(&people[0]);
    assert_problem(
        &app.get_as(&employee, &format!("/api/v1/events/{ev}/roster"))
            .await,
        403,
        "forbidden",
    );
    let hr = app.token(&app.user(Role::Hr, None));
    assert_eq!(
        app.get_as(&hr, &format!("/api/v1/events/{ev}/roster"))
            .await
            .0,
        200
    );
}

async fn idempotency_keys_make_retries_safe(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let ev = event(&app, &s, 4, json!(10), true).await;
    let person = &app.employees(1, Some(s.site))[0];
    let token = app.token(person);
    let path = format!("/api/v1/events/{ev}/signups");
    let send = |key: &str, body: Value| {
        let req = app
            .client()
            .post(app.url(&path))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Idempotency-Key", key.to_owned()));
        async move {
            let mut res = req.send_json(&body).await.unwrap();
            let replayed = res.headers().get("idempotent-replayed").is_some();
            let location = res
                .headers()
                .get("location")
                .map(|v| v.to_str().unwrap().to_owned());
            let got = common::read_json(&mut res).await;
            (got, replayed, location)
        }
    };
    let (first, replayed, location) = send("key-1", json!({})).await;
    assert_eq!(first.0, 201, "{}", first.2);
    assert!(!replayed);
    assert_eq!(
        location.unwrap(),
        format!("/api/v1/signups/{}", first.2["id"].as_str().unwrap())
    );
    let (second, replayed, _) = send("key-1", json!({})).await;
    assert_eq!(second.0, 201);
    assert!(replayed, "the retry is a replay");
    assert_eq!(second.2, first.2, "the same answer");
    assert_eq!(roster(&app, &s, &ev).await.len(), 1, "one sign-up");

    let (other_body, _, _) = send("key-1", json!({"force": true})).await;
    assert_problem(&other_body, 422, "idempotency_key_reused");

    // A failed request releases its key: the retry runs again (and fails the same way here).
    let (dup, _, _) = send("key-2", json!({})).await;
    assert_problem(&dup, 409, "already_signed_up");
    let (dup_again, replayed, _) = send("key-2", json!({})).await;
    assert_problem(&dup_again, 409, "already_signed_up");
    assert!(!replayed);

    // Many copies of one request at once: exactly one sign-up is made.
    let ev2 = event(&app, &s, 12, json!(10), true).await;
    let path2 = format!("/api/v1/events/{ev2}/signups");
    let copies = (0..8).map(|_| {
        app.client()
            .post(app.url(&path2))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Idempotency-Key", "key-3"))
            .send_json(&json!({}))
    });
    let results = join_all(copies).await;
    let mut ids = Vec::new();
    for res in results {
        let mut res = res.unwrap();
        let got = common::read_json(&mut res).await;
        match got.0 {
            201 => ids.push(got.2["id"].as_str().unwrap().to_owned()),
            409 => assert_eq!(got.2["code"], "idempotency_in_progress", "{}", got.2),
            other => panic!("{other}: {}", got.2),
        }
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every 201 names the same sign-up: {ids:?}");
    assert_eq!(roster(&app, &s, &ev2).await.len(), 1);
}

async fn calendars_show_events_and_the_personal_feed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let confirmed = event(&app, &s, 5, json!(1), true).await;
    let person = &app.employees(2, Some(s.site));
    let token = app.token(&person[0]);
    app.call(
        "POST",
        &format!("/api/v1/events/{confirmed}/signups"),
        Some(&token),
        Some(json!({})),
    )
    .await;
    // A second event where person 0 is only waitlisted.
    let full = event(&app, &s, 8, json!(1), true).await;
    app.call(
        "POST",
        &format!("/api/v1/events/{full}/signups"),
        Some(&app.token(&person[1])),
        Some(json!({})),
    )
    .await;
    app.call(
        "POST",
        &format!("/api/v1/events/{full}/signups"),
        Some(&token),
        Some(json!({})),
    )
    .await;

    let text = |path: String, bearer: Option<String>| {
        let mut req = app.client().get(app.url(&path));
        if let Some(t) = bearer {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        async move {
            let mut res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let ct = res
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            (
                status,
                ct,
                String::from_utf8(res.body().await.unwrap().to_vec()).unwrap(),
            )
        }
    };
    let (status, ct, ics) = text(
        format!("/api/v1/events/{confirmed}/event.ics"),
        Some(token.clone()),
    )
    .await;
    assert_eq!(status, 200, "{ics}");
    assert!(ct.starts_with("text/calendar"));
    assert!(
        ics.contains(&format!("UID:{confirmed}@tomoni\r\n")),
        "{ics}"
    );
    assert!(ics.contains("DTSTART;TZID=Asia/Tokyo:"), "{ics}");
    assert!(
        ics.contains("TZID:Asia/Tokyo\r\n"),
        "with its VTIMEZONE: {ics}"
    );

    let (_, _, created) = app
        .call("POST", "/api/v1/me/calendar-token", Some(&token), None)
        .await;
    let absolute = created["url"].as_str().unwrap().to_owned();
    let base = app.url("");
    assert!(absolute.starts_with(&base), "{absolute} is on {base}");
    let url = absolute[base.len()..].to_owned();
    let (status, _, feed) = text(url.clone(), None).await;
    assert_eq!(status, 200, "no bearer token needed: {feed}");
    assert!(feed.contains(&format!("UID:{confirmed}@tomoni")), "{feed}");
    assert!(
        !feed.contains(&format!("UID:{full}@tomoni")),
        "waitlisted events are not in the feed"
    );

    let (_, _, rotated) = app
        .call("POST", "/api/v1/me/calendar-token", Some(&token), None)
        .await;
    assert_eq!(text(url, None).await.0, 404, "the old URL stops working");
    let new_url = rotated["url"].as_str().unwrap()[base.len()..].to_owned();
    assert_eq!(text(new_url.clone(), None).await.0, 200);
    let (status, _, _) = app
        .call("DELETE", "/api/v1/me/calendar-token", Some(&token), None)
        .await;
    assert_eq!(status, 204);
    assert_eq!(text(new_url, None).await.0, 404);
    assert_eq!(
        text("/api/v1/me/calendar.ics?token=guess".into(), None)
            .await
            .0,
        404
    );
}

/// The overlap check follows an event that moves: a sign-up for an event that is later moved
/// onto another one's time clashes with it, and stops clashing once the event moves away again
/// (the sign-ups keep a copy of their event's times for the check's index).
async fn the_overlap_check_follows_events_that_move(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let s = setup(&app).await;
    let first = event(&app, &s, 3, Value::Null, true).await;
    let second = event(&app, &s, 10, Value::Null, true).await;
    let token = app.token(&app.employees(1, Some(s.site))[0]);
    let sign_up = |e: &str| format!("/api/v1/events/{e}/signups");
    let (status, _, body) = app
        .call("POST", &sign_up(&first), Some(&token), Some(json!({})))
        .await;
    assert_eq!(status, 201, "{body}");
    let move_first = |days: i64| {
        let start = Utc::now() + Duration::days(days);
        json!({"starts_at": start.to_rfc3339(), "ends_at": (start + Duration::hours(3)).to_rfc3339()})
    };
    let path = format!("/api/v1/events/{first}");
    let (status, _, body) = app
        .call("PATCH", &path, Some(&s.coord_token), Some(move_first(10)))
        .await;
    assert_eq!(status, 200, "{body}");
    let clash = app
        .call("POST", &sign_up(&second), Some(&token), Some(json!({})))
        .await;
    assert_clashes_with(&clash, "Beach clean-up");
    let (status, _, body) = app
        .call("PATCH", &path, Some(&s.coord_token), Some(move_first(20)))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = app
        .call("POST", &sign_up(&second), Some(&token), Some(json!({})))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (201, Some("confirmed")),
        "{body}"
    );
}

both_backends!(
    local_times_and_days_are_read_in_the_event_zone,
    calendars_show_events_and_the_personal_feed,
    idempotency_keys_make_retries_safe,
    two_hundred_simultaneous_signups_fill_fifty_seats_exactly,
    concurrent_cancellations_and_signups_keep_the_invariants,
    freed_seats_go_to_the_head_of_the_line,
    sign_up_rules_are_enforced,
    deadlines_close_sign_up_and_self_cancellation,
    events_are_validated_and_shown_in_the_site_time_zone,
    the_event_list_filters_and_pages,
    rosters_are_for_the_site_and_export_as_csv,
    the_overlap_check_follows_events_that_move,
);
