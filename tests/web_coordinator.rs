//! The coordinator's pages over real HTTP, as a browser without JavaScript uses them: an event
//! made and published through the editor, its roster with sign-ups from the API, a walk-in,
//! attendance per row (the htmx request) and as one form, the approval queue, the cancel
//! confirmation with its reason in the mail; and the scope: another site's coordinator gets 404
//! on every page and form, an employee too, and a form replayed after sign-out does nothing.
//! The same flow in a real browser is in `tests/browser.rs`.

mod common;

use chrono::{Duration, Utc};
use common::web::{Browser, Page};
use common::{Backend, TestApp, TestUser};
use diesel::prelude::*;
use serde_json::json;
use tomoni::auth::Role;
use tomoni::db::schema::{attendance, events, outbox, users};

fn number_of(app: &TestApp, user: &TestUser) -> String {
    users::table
        .filter(users::id.eq(user.id))
        .select(users::employee_number)
        .first(&mut app.conn())
        .expect("employee number")
}

/// The `id` of the first `href="/manage/events/{id}"` link after a redirect.
fn event_id_of(page: &Page) -> String {
    let to = page.location().expect("a redirect");
    to.trim_start_matches("/manage/events/")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned()
}

struct Site {
    app: TestApp,
    coordinator: TestUser,
    program: String,
    browser: Browser,
}

async fn signed_in_coordinator(backend: Backend) -> Site {
    let app = TestApp::spawn(backend).await;
    let site = app.site("TYO");
    let coordinator = app.coordinator(&[site]);
    let program = app
        .program(
            &app.token(&coordinator),
            site,
            json!({"title": "Tohoku trip"}),
        )
        .await;
    let mut browser = Browser::default();
    browser.sign_in(&app, &coordinator).await;
    Site {
        app,
        coordinator,
        program,
        browser,
    }
}

/// Creates and publishes through the editor a three-day event in Asia/Tokyo, starting in
/// `days` days at 09:00 local and ending two days later at 17:00.
async fn three_days(s: &mut Site, days: i64) -> String {
    let form = s.browser.get(&s.app, "/manage/events/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        form.body.contains("Tohoku trip"),
        "the programme is offered"
    );
    let day = (Utc::now() + Duration::days(days)).date_naive();
    let starts = format!("{day}T09:00");
    let ends = format!("{}T17:00", day + Duration::days(2));
    let csrf = form.csrf();
    let page = s
        .browser
        .post(
            &s.app,
            "/manage/events/new",
            &[
                ("csrf", &csrf),
                ("program_id", &s.program),
                ("title", "Minamisanriku task force"),
                ("starts_at", &starts),
                ("ends_at", &ends),
                ("timezone", "Asia/Tokyo"),
                ("location", "Minamisanriku"),
                ("capacity", "10"),
                ("waitlist_enabled", "on"),
                ("then", "publish"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    event_id_of(&page)
}

async fn an_event_is_made_published_staffed_marked_and_approved(backend: Backend) {
    let mut s = signed_in_coordinator(backend).await;
    let home = s.browser.get(&s.app, "/manage").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("TYO"), "the coordinator's site is named");

    let id = three_days(&mut s, 5).await;
    let editor = s.browser.get(&s.app, &format!("/manage/events/{id}")).await;
    assert_eq!(editor.status, 200);
    assert!(editor.body.contains("Published"), "{}", editor.body);
    assert!(
        editor
            .body
            .replace("&#x2f;", "/")
            .contains("Times are in Asia/Tokyo")
    );
    // The times the coordinator typed come back as typed, in the event's zone.
    let day = (Utc::now() + Duration::days(5)).date_naive();
    assert!(editor.body.contains(&format!("value=\"{day}T09:00\"")));
    let (_, _, api) = s
        .app
        .get_as(
            &s.app.token(&s.coordinator),
            &format!("/api/v1/events/{id}"),
        )
        .await;
    assert_eq!(api["status"], "published");
    assert_eq!(api["timezone"], "Asia/Tokyo");
    assert_eq!(
        api["starts_at"].as_str().unwrap(),
        format!("{day}T09:00:00+09:00")
    );

    // Sign-ups arrive from the API.
    let site: tomoni::db::Id = s.app.site("OTHER");
    let people: Vec<TestUser> = (0..3)
        .map(|_| s.app.user(Role::Employee, Some(site)))
        .collect();
    for p in &people {
        s.app.sign_up(p, &id).await;
    }
    let roster = s
        .browser
        .get(&s.app, &format!("/manage/events/{id}/roster"))
        .await;
    assert_eq!(roster.status, 200);
    for p in &people {
        assert!(roster.body.contains(&p.email), "{} on the roster", p.email);
    }
    assert!(
        roster
            .body
            .contains("Attendance can be recorded once the event has started")
    );

    // The trip moved: it started yesterday (attendance can now be recorded).
    let csrf = editor.csrf();
    let start = (Utc::now() - Duration::days(1)).date_naive();
    let saved = s
        .browser
        .post(
            &s.app,
            &format!("/manage/events/{id}"),
            &[
                ("csrf", &csrf),
                ("program_id", &s.program),
                ("title", "Minamisanriku task force"),
                ("starts_at", &format!("{start}T09:00")),
                ("ends_at", &format!("{}T17:00", start + Duration::days(2))),
                ("timezone", "Asia/Tokyo"),
                ("location", "Minamisanriku"),
                ("capacity", "10"),
                ("waitlist_enabled", "on"),
                ("then", "save"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);

    // The form offers the event's own defaults: three days of 480 minutes.
    let roster = s
        .browser
        .get(&s.app, &format!("/manage/events/{id}/roster"))
        .await;
    assert!(
        roster.body.contains("Defaults: 3 day(s), 1,440 minutes."),
        "{}",
        roster.body
    );
    let third = people[2].id;
    assert!(
        roster.body.contains(&format!(
            "name=\"days.{third}\" type=\"number\" min=\"0\" inputmode=\"numeric\" value=\"3\""
        )),
        "{}",
        roster.body
    );

    // A walk-in by employee number.
    let walk_in = s.app.user(Role::Employee, Some(site));
    let page = s
        .browser
        .post(
            &s.app,
            &format!("/manage/events/{id}/walk-in"),
            &[
                ("csrf", &csrf),
                ("employee_number", &number_of(&s.app, &walk_in)),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let unknown = s
        .browser
        .post(
            &s.app,
            &format!("/manage/events/{id}/walk-in"),
            &[("csrf", &csrf), ("employee_number", "NOBODY-1")],
        )
        .await;
    assert_eq!(unknown.status, 422);
    assert!(
        unknown.body.contains("Nobody has this employee number"),
        "{}",
        unknown.body
    );

    // One row the way htmx sends it: the answer is that row alone.
    let first = people[0].id.to_string();
    let row = s
        .app
        .client()
        .post(
            s.app
                .url(&format!("/manage/events/{id}/attendance/{first}")),
        )
        .insert_header((
            "Cookie",
            format!("tomoni_session={}", s.browser.session().unwrap()),
        ))
        .insert_header(("Sec-Fetch-Site", "same-origin"))
        .insert_header(("HX-Request", "true"))
        .send_form(&[
            ("csrf", csrf.as_str()),
            (&format!("status.{first}"), "attended"),
            (&format!("days.{first}"), "2"),
            (&format!("minutes.{first}"), "900"),
        ])
        .await;
    let mut row = row.expect("row");
    assert_eq!(row.status(), 200);
    let body = String::from_utf8(row.body().await.unwrap().to_vec()).unwrap();
    assert!(body.starts_with("<fieldset"), "a fragment: {body}");
    assert!(!body.contains("<html"), "{body}");
    assert!(body.contains("Saved"), "{body}");

    // Everyone else at once, as the form without JavaScript sends it; one a no-show.
    let (second, third) = (people[1].id.to_string(), people[2].id.to_string());
    let walked = walk_in.id.to_string();
    let all = s
        .browser
        .post(
            &s.app,
            &format!("/manage/events/{id}/attendance"),
            &[
                ("csrf", &csrf),
                (&format!("status.{second}"), "attended"),
                (&format!("days.{second}"), "3"),
                (&format!("minutes.{second}"), "1440"),
                (&format!("status.{third}"), "no_show"),
                (&format!("days.{third}"), "3"),
                (&format!("minutes.{third}"), "1440"),
                (&format!("status.{walked}"), "attended"),
                (&format!("days.{walked}"), "3"),
                (&format!("minutes.{walked}"), "1440"),
            ],
        )
        .await;
    assert_eq!(all.status, 303, "{}", all.body);
    let records: Vec<(String, String, i32, i32)> = attendance::table
        .filter(attendance::event_id.eq(tomoni::db::Id::from(id.parse::<uuid::Uuid>().unwrap())))
        .select((
            attendance::approval,
            attendance::status,
            attendance::minutes,
            attendance::days,
        ))
        .order(attendance::minutes)
        .load(&mut s.app.conn())
        .unwrap();
    assert_eq!(
        records,
        vec![
            ("pending".into(), "no_show".into(), 0, 0),
            ("pending".into(), "attended".into(), 900, 2),
            ("pending".into(), "attended".into(), 1440, 3),
            ("pending".into(), "attended".into(), 1440, 3),
        ]
    );

    // The queue holds the four; approving the ticked ones approves exactly those.
    let queue = s.browser.get(&s.app, "/manage/approvals").await;
    assert_eq!(queue.status, 200);
    let ids: Vec<String> = queue
        .body
        .match_indices("name=\"id\" value=\"")
        .map(|(i, m)| queue.body[i + m.len()..i + m.len() + 36].to_owned())
        .collect();
    assert_eq!(ids.len(), 4, "{}", queue.body);
    let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    form.extend(ids.iter().map(|i| ("id", i.as_str())));
    let approved = s.browser.post(&s.app, "/manage/approvals", &form).await;
    assert_eq!(approved.status, 303, "{}", approved.body);
    let pending: i64 = attendance::table
        .filter(attendance::approval.eq("pending"))
        .count()
        .get_result(&mut s.app.conn())
        .unwrap();
    assert_eq!(pending, 0);
    let after = s.browser.get(&s.app, "/manage/approvals?approved=4").await;
    assert!(after.body.contains("4 approved"), "{}", after.body);

    // The record's page shows its trail.
    let record = s
        .browser
        .get(&s.app, &format!("/manage/attendance/{}", ids[0]))
        .await;
    assert_eq!(record.status, 200);
    assert!(record.body.contains("id=\"trail\""), "{}", record.body);
    assert!(record.body.contains(&s.coordinator.email));

    // The first person's hours, on their page; the statistics count the four.
    let mut employee = Browser::default();
    employee.sign_in(&s.app, &people[0]).await;
    let hours = employee.get(&s.app, "/my/hours").await;
    assert!(
        hours.body.contains("Minamisanriku task force"),
        "{}",
        hours.body
    );
    assert!(
        hours.body.contains("15"),
        "900 minutes are 15 hours: {}",
        hours.body
    );
    let fy = {
        let fiscal = tomoni::stats::rollup::calendar(&mut s.app.conn()).unwrap();
        fiscal.year_of(start)
    };
    let (status, _, report) = s
        .app
        .get_as(
            &s.app.token(&s.coordinator),
            &format!("/api/v1/stats/mdd?from={fy}&to={fy}"),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    let figures = &report["years"][0]["figures"];
    assert_eq!(figures["participants"], 3, "{report}");
    assert_eq!(figures["person_days"], 8, "{report}");
    assert_eq!(figures["volunteer_hours"], 63.0, "{report}");
}

async fn a_cancellation_is_confirmed_and_its_reason_mailed(backend: Backend) {
    let mut s = signed_in_coordinator(backend).await;
    let id = three_days(&mut s, 7).await;
    let person = s.app.user(Role::Employee, None);
    s.app.sign_up(&person, &id).await;
    let confirm = s
        .browser
        .get(&s.app, &format!("/manage/events/{id}/cancel"))
        .await;
    assert_eq!(confirm.status, 200);
    assert!(
        confirm.body.contains("1 people are signed up"),
        "{}",
        confirm.body
    );
    // Nothing changes until the confirmation is sent.
    let status: String = events::table
        .filter(events::id.eq(tomoni::db::Id::from(id.parse::<uuid::Uuid>().unwrap())))
        .select(events::status)
        .first(&mut s.app.conn())
        .unwrap();
    assert_eq!(status, "published");
    let csrf = confirm.csrf();
    let long = "x".repeat(501);
    let refused = s
        .browser
        .post(
            &s.app,
            &format!("/manage/events/{id}/cancel"),
            &[("csrf", &csrf), ("reason", &long)],
        )
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let done = s
        .browser
        .post(
            &s.app,
            &format!("/manage/events/{id}/cancel"),
            &[
                ("csrf", &csrf),
                ("reason", "A typhoon closes the coast road."),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let payloads: Vec<String> = outbox::table
        .filter(outbox::kind.eq("event_cancelled"))
        .select(outbox::payload)
        .load(&mut s.app.conn())
        .unwrap();
    assert_eq!(payloads.len(), 1);
    assert!(
        payloads[0].contains("A typhoon closes the coast road."),
        "{}",
        payloads[0]
    );
    let editor = s.browser.get(&s.app, &format!("/manage/events/{id}")).await;
    assert!(editor.body.contains("Cancelled"), "{}", editor.body);
}

async fn another_site_and_employees_get_404_and_replays_do_nothing(backend: Backend) {
    let mut s = signed_in_coordinator(backend).await;
    let id = three_days(&mut s, 3).await;
    let person = s.app.user(Role::Employee, None);
    let signup = s.app.sign_up(&person, &id).await;
    let signup = signup["id"].as_str().unwrap().to_owned();
    let other_site = s.app.site("OSA");
    let stranger = s.app.coordinator(&[other_site]);
    let mut other = Browser::default();
    other.sign_in(&s.app, &stranger).await;
    let csrf = other.get(&s.app, "/manage").await.csrf();
    let user = person.id.to_string();
    for path in [
        format!("/manage/events/{id}"),
        format!("/manage/events/{id}/roster"),
        format!("/manage/events/{id}/roster.csv"),
        format!("/manage/events/{id}/cancel"),
        format!("/manage/events/{id}/check-in"),
        format!("/manage/events/{id}/check-in/qr.svg"),
        format!("/manage/events/{id}/check-in/arrivals"),
        format!("/manage/events/new?copy={id}"),
        format!("/manage/programs/{}", s.program),
    ] {
        let page = other.get(&s.app, &path).await;
        assert_eq!(page.status, 404, "GET {path}: {}", page.body);
    }
    let posts: Vec<(String, Vec<(String, String)>)> = vec![
        (
            format!("/manage/events/{id}"),
            vec![("title".into(), "Taken over".into())],
        ),
        (format!("/manage/events/{id}/publish"), vec![]),
        (
            format!("/manage/events/{id}/cancel"),
            vec![("reason".into(), "no".into())],
        ),
        (
            format!("/manage/events/{id}/roster/add"),
            vec![("who".into(), number_of(&s.app, &stranger))],
        ),
        (
            format!("/manage/events/{id}/walk-in"),
            vec![("employee_number".into(), number_of(&s.app, &person))],
        ),
        (
            format!("/manage/events/{id}/attendance"),
            vec![(format!("status.{user}"), "attended".into())],
        ),
        (
            format!("/manage/events/{id}/attendance/{user}"),
            vec![(format!("status.{user}"), "attended".into())],
        ),
        (format!("/manage/events/{id}/attendance/everyone"), vec![]),
        (format!("/manage/events/{id}/check-in"), vec![]),
        (
            format!("/manage/signups/{signup}/cancel"),
            vec![("event".into(), id.clone())],
        ),
        (
            format!("/manage/programs/{}", s.program),
            vec![
                ("title".into(), "Mine".into()),
                ("code".into(), "X".into()),
                ("theme".into(), "nature".into()),
            ],
        ),
    ];
    for (path, fields) in &posts {
        let mut form: Vec<(&str, &str)> = vec![("csrf", &csrf)];
        form.extend(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let page = other.post(&s.app, path, &form).await;
        assert_eq!(page.status, 404, "POST {path}: {}", page.body);
    }
    // Nothing changed: the sign-up is live, nobody has attendance, the event is as made.
    let (_, _, event) = s
        .app
        .get_as(
            &s.app.token(&s.coordinator),
            &format!("/api/v1/events/{id}"),
        )
        .await;
    assert_eq!(event["title"], "Minamisanriku task force");
    assert_eq!(event["status"], "published");
    assert_eq!(event["seats_taken"], 1);
    let records: i64 = attendance::table
        .count()
        .get_result(&mut s.app.conn())
        .unwrap();
    assert_eq!(records, 0);

    // An employee has no coordinator pages at all.
    let mut employee = Browser::default();
    employee.sign_in(&s.app, &person).await;
    for path in [
        "/manage",
        "/manage/approvals",
        "/manage/programs",
        "/manage/events/new",
    ] {
        assert_eq!(employee.get(&s.app, path).await.status, 404, "{path}");
    }

    // A form replayed after the session ended changes nothing.
    let own_csrf = s.browser.get(&s.app, "/manage").await.csrf();
    let session = s.browser.session().unwrap();
    let out = s
        .browser
        .post(&s.app, "/sign-out", &[("csrf", &own_csrf)])
        .await;
    assert_eq!(out.status, 303);
    s.browser.cookies.push(("tomoni_session".into(), session));
    let replay = s
        .browser
        .post(
            &s.app,
            &format!("/manage/events/{id}/cancel"),
            &[("csrf", &own_csrf), ("reason", "replayed")],
        )
        .await;
    assert_eq!(replay.status, 303);
    assert!(replay.location().unwrap().starts_with("/sign-in"));
    let (_, _, event) = s
        .app
        .get_as(
            &s.app.token(&s.coordinator),
            &format!("/api/v1/events/{id}"),
        )
        .await;
    assert_eq!(event["status"], "published");
}

both_backends!(
    an_event_is_made_published_staffed_marked_and_approved,
    a_cancellation_is_confirmed_and_its_reason_mailed,
    another_site_and_employees_get_404_and_replays_do_nothing,
);
