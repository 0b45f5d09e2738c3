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
    /// The session's CSRF token, which every form carries.
    csrf: String,
}

impl Site {
    /// Sends a form of the coordinator's pages, with the session's CSRF token.
    async fn send(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        let mut form = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        self.browser.post(&self.app, path, &form).await
    }
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
    let csrf = browser.get(&app, "/manage").await.csrf();
    Site {
        app,
        coordinator,
        program,
        browser,
        csrf,
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
    let program = s.program.clone();
    let page = s
        .send(
            "/manage/events/new",
            &[
                ("program_id", &program),
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
    let program = s.program.clone();
    let saved = s
        .send(
            &format!("/manage/events/{id}"),
            &[
                ("program_id", &program),
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
        .send(
            &format!("/manage/events/{id}/walk-in"),
            &[("employee_number", &number_of(&s.app, &walk_in))],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let unknown = s
        .send(
            &format!("/manage/events/{id}/walk-in"),
            &[("employee_number", "NOBODY-1")],
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
        .send(
            &format!("/manage/events/{id}/attendance"),
            &[
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
    let long = "x".repeat(501);
    let refused = s
        .send(&format!("/manage/events/{id}/cancel"), &[("reason", &long)])
        .await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    let done = s
        .send(
            &format!("/manage/events/{id}/cancel"),
            &[("reason", "A typhoon closes the coast road.")],
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

async fn the_roster_adds_forces_past_a_clash_cancels_and_downloads(backend: Backend) {
    let mut s = signed_in_coordinator(backend).await;
    let id = three_days(&mut s, 4).await;
    let other = three_days(&mut s, 5).await;
    let person = s.app.user(Role::Employee, None);
    let number = number_of(&s.app, &person);
    // Already on the overlapping trip: adding them shows the clash and asks.
    s.app.sign_up(&person, &other).await;
    let path = format!("/manage/events/{id}/roster/add");
    let clash = s.send(&path, &[("who", &number)]).await;
    assert_eq!(clash.status, 409, "{}", clash.body);
    assert!(clash.body.contains("overlaps"), "{}", clash.body);
    assert!(clash.body.contains("id=\"force-add\""), "{}", clash.body);
    let user = person.id.to_string();
    let forced = s.send(&path, &[("user", &user), ("force", "1")]).await;
    assert_eq!(forced.status, 303, "{}", forced.body);
    // By name: one of the coordinator's site's people.
    let site: tomoni::db::Id = users::table
        .filter(users::id.eq(s.coordinator.id))
        .select(users::site_id)
        .first::<Option<tomoni::db::Id>>(&mut s.app.conn())
        .unwrap()
        .unwrap_or_else(|| s.app.site("TYO2"));
    let local = s.app.user(Role::Employee, Some(site));
    diesel::update(users::table.filter(users::id.eq(local.id)))
        .set(users::display_name.eq("Hanako Yamada"))
        .execute(&mut s.app.conn())
        .unwrap();
    let by_name = s.send(&path, &[("who", "yamada")]).await;
    assert_eq!(by_name.status, 303, "{}", by_name.body);
    assert!(by_name.location().unwrap().contains("added=Hanako"));
    let nobody = s.send(&path, &[("who", "nobody at all")]).await;
    assert_eq!(nobody.status, 422, "{}", nobody.body);

    // The CSV, with and without the BOM, lists both.
    let csv = s
        .browser
        .get(&s.app, &format!("/manage/events/{id}/roster.csv?bom=1"))
        .await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with('\u{feff}'), "BOM first");
    assert!(
        csv.body.contains(&number) && csv.body.contains("Hanako Yamada"),
        "{}",
        csv.body
    );
    let plain = s
        .browser
        .get(&s.app, &format!("/manage/events/{id}/roster.csv"))
        .await;
    assert!(plain.body.starts_with("status,"), "{}", plain.body);

    // Cancelled on their behalf: the seat is free again, the roster lists them as cancelled.
    let signup: String = tomoni::db::schema::signups::table
        .filter(tomoni::db::schema::signups::user_id.eq(person.id))
        .filter(
            tomoni::db::schema::signups::event_id
                .eq(tomoni::db::Id::from(id.parse::<uuid::Uuid>().unwrap())),
        )
        .select(tomoni::db::schema::signups::id)
        .first::<tomoni::db::Id>(&mut s.app.conn())
        .unwrap()
        .to_string();
    let cancelled = s
        .send(
            &format!("/manage/signups/{signup}/cancel"),
            &[("event", &id)],
        )
        .await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    let (_, _, event) = s
        .app
        .get_as(
            &s.app.token(&s.coordinator),
            &format!("/api/v1/events/{id}"),
        )
        .await;
    assert_eq!(event["seats_taken"], 1, "{event}");
    let roster = s
        .browser
        .get(&s.app, &format!("/manage/events/{id}/roster"))
        .await;
    let cancelled_list = &roster.body[roster
        .body
        .find("id=\"cancelled\"")
        .expect("cancelled list")..];
    assert!(cancelled_list.contains(&person.email));
}

async fn programmes_copies_past_activities_and_rejections_through_the_pages(backend: Backend) {
    let mut s = signed_in_coordinator(backend).await;
    // A programme made and changed through its form.
    let form = s.browser.get(&s.app, "/manage/programs/new").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let site = form.body[form.body.find("<option value=\"").unwrap() + 15..]
        .split('"')
        .next()
        .unwrap()
        .to_owned();
    let made = s
        .send(
            "/manage/programs/new",
            &[
                ("site_id", &site),
                ("title", "Oyster beds"),
                ("code", "OYSTER"),
                ("theme", "nature"),
                ("categories", "biodiversity"),
            ],
        )
        .await;
    assert_eq!(made.status, 303, "{}", made.body);
    let program = made
        .location()
        .unwrap()
        .trim_start_matches("/manage/programs/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let taken = s
        .send(
            "/manage/programs/new",
            &[
                ("site_id", &site),
                ("title", "Again"),
                ("code", "OYSTER"),
                ("theme", "nature"),
            ],
        )
        .await;
    assert_eq!(taken.status, 409, "the code is taken: {}", taken.body);
    assert!(
        taken.body.contains("value=\"Again\""),
        "what was typed stays"
    );
    let edited = s
        .send(
            &format!("/manage/programs/{program}"),
            &[
                ("title", "Oyster beds of Shizugawa"),
                ("code", "OYSTER"),
                ("theme", "community"),
            ],
        )
        .await;
    assert_eq!(edited.status, 303, "{}", edited.body);
    let (_, _, p) = s
        .app
        .get_as(
            &s.app.token(&s.coordinator),
            &format!("/api/v1/programs/{program}"),
        )
        .await;
    assert_eq!(p["title"], "Oyster beds of Shizugawa");
    assert_eq!(p["theme"], "community");
    assert_eq!(p["categories"], json!([]), "unticked: no categories");

    // A past activity recorded after the fact, its attendance entered on its roster.
    let day = (Utc::now() - Duration::days(20)).date_naive();
    let past = s
        .send(
            "/manage/events/new",
            &[
                ("program_id", &program),
                ("starts_at", &format!("{day}T10:00")),
                ("ends_at", &format!("{day}T13:00")),
                ("timezone", "Asia/Tokyo"),
                ("then", "draft"),
            ],
        )
        .await;
    assert_eq!(past.status, 303, "{}", past.body);
    let past = event_id_of(&past);
    let (_, _, event) = s
        .app
        .get_as(
            &s.app.token(&s.coordinator),
            &format!("/api/v1/events/{past}"),
        )
        .await;
    assert_eq!(event["status"], "completed", "{event}");
    assert_eq!(
        event["title"], "Oyster beds of Shizugawa",
        "the programme's title by default"
    );
    let person = s.app.user(Role::Employee, None);
    let walked = s
        .send(
            &format!("/manage/events/{past}/walk-in"),
            &[("employee_number", &number_of(&s.app, &person))],
        )
        .await;
    assert_eq!(walked.status, 303, "{}", walked.body);
    let minutes: i32 = attendance::table
        .filter(attendance::user_id.eq(person.id))
        .select(attendance::minutes)
        .first(&mut s.app.conn())
        .unwrap();
    assert_eq!(minutes, 180, "the event's own three hours");

    // Rejected with a reason on the record's page; the trail shows it.
    let record: tomoni::db::Id = attendance::table
        .filter(attendance::user_id.eq(person.id))
        .select(attendance::id)
        .first(&mut s.app.conn())
        .unwrap();
    let page = format!("/manage/attendance/{record}");
    let empty = s.send(&format!("{page}/reject"), &[("reason", " ")]).await;
    assert_eq!(empty.status, 422, "{}", empty.body);
    let rejected = s
        .send(
            &format!("{page}/reject"),
            &[("reason", "Not on the boat that day")],
        )
        .await;
    assert_eq!(rejected.status, 303, "{}", rejected.body);
    let shown = s.browser.get(&s.app, &page).await;
    assert!(
        shown.body.contains("Rejected: Not on the boat that day"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("id=\"trail\""), "{}", shown.body);

    // Copied to a new date: the form comes filled, the times moved, nothing saved yet.
    let on = (Utc::now() + Duration::days(30)).date_naive();
    let copy = s
        .browser
        .get(&s.app, &format!("/manage/events/new?copy={past}&on={on}"))
        .await;
    assert_eq!(copy.status, 200, "{}", copy.body);
    assert!(
        copy.body.contains(&format!("value=\"{on}T10:00\"")),
        "{}",
        copy.body
    );
    assert!(copy.body.contains(&format!("value=\"{on}T13:00\"")));
    let events: i64 = events::table.count().get_result(&mut s.app.conn()).unwrap();
    assert_eq!(events, 1, "a copy is saved only when its form is sent");
}

async fn a_control_character_in_any_form_is_refused_and_nothing_written(backend: Backend) {
    let mut s = signed_in_coordinator(backend).await;
    let day = (Utc::now() + Duration::days(9)).date_naive();
    let program = s.program.clone();
    let (starts, ends) = (format!("{day}T09:00"), format!("{day}T12:00"));
    for bad in ["Beach\u{0}clean-up", "Beach\u{1b}[31m"] {
        let page = s
            .send(
                "/manage/events/new",
                &[
                    ("program_id", &program),
                    ("title", bad),
                    ("starts_at", &starts),
                    ("ends_at", &ends),
                ],
            )
            .await;
        assert_eq!(page.status, 422, "{}", page.body);
        assert!(page.body.contains("control characters"), "{}", page.body);
    }
    let made: i64 = events::table.count().get_result(&mut s.app.conn()).unwrap();
    assert_eq!(made, 0);
    // Line breaks are text like any other.
    let page = s
        .send(
            "/manage/events/new",
            &[
                ("program_id", &program),
                ("description", "Bring gloves.\r\nMeet at the station."),
                ("starts_at", &starts),
                ("ends_at", &ends),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    // The employee's own forms too.
    let person = s.app.user(Role::Employee, None);
    let mut browser = Browser::default();
    browser.sign_in(&s.app, &person).await;
    let csrf = browser.get(&s.app, "/my/profile").await.csrf();
    let page = browser
        .post(
            &s.app,
            "/my/profile",
            &[
                ("csrf", &csrf),
                ("display_name", "A\u{0}B"),
                ("locale", "en"),
            ],
        )
        .await;
    assert_eq!(page.status, 422, "{}", page.body);
    let name: String = users::table
        .filter(users::id.eq(person.id))
        .select(users::display_name)
        .first(&mut s.app.conn())
        .unwrap();
    assert!(!name.contains('\u{0}'));
}

both_backends!(
    a_control_character_in_any_form_is_refused_and_nothing_written,
    the_roster_adds_forces_past_a_clash_cancels_and_downloads,
    programmes_copies_past_activities_and_rejections_through_the_pages,
    an_event_is_made_published_staffed_marked_and_approved,
    a_cancellation_is_confirmed_and_its_reason_mailed,
    another_site_and_employees_get_404_and_replays_do_nothing,
);
