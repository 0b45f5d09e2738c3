//! The employees' event list kept in memory for a moment (`programs::list_cache`): a repeated
//! employee query is answered without reading the events again, while the caller is still
//! checked on every request; a write request to the instance, or the end of
//! `database.list_cache_ms`, makes it read afresh; lists that depend on the caller are never kept.
//! With the cache off, every request reads its page, and the caller is checked in the page's own
//! statement (`programs::events::list_signed_in`), with the same answers as a separate check.

mod common;

use std::time::{Duration, Instant};

use common::web::Browser;
use common::{Backend, TestApp, TestDb};
use diesel::prelude::*;
use serde_json::json;
use tomoni::auth::Role;
use tomoni::db::Id;
use tomoni::db::schema::{events, refresh_tokens, sites, users};
use tomoni::programs::events::{EventQuery, ListFilter, list_signed_in};

both_backends!(
    a_repeated_employee_list_is_answered_from_memory_until_a_write,
    the_caller_is_checked_when_the_list_comes_from_memory,
    lists_that_depend_on_the_caller_are_always_read,
    a_write_on_another_instance_shows_once_the_kept_page_expires,
    without_the_cache_the_page_and_its_callers_check_are_one_statement,
    without_the_cache_an_ended_or_deactivated_caller_gets_401_as_elsewhere,
);

/// An app with `ttl_ms` of list cache, and a coordinator's site with a published event starting
/// tomorrow.
async fn app_with_event(backend: Backend, ttl_ms: u64) -> (TestApp, Running, String) {
    let db = TestDb::new(&backend);
    let mut settings = db.settings();
    settings.database.list_cache_ms = ttl_ms;
    let app = TestApp::spawn_with(db, settings).await;
    let site = app.site("CACHE");
    let coordinator = app.coordinator(&[site]);
    let token = app.token(&coordinator);
    let program = app.program(&token, site, json!({})).await;
    let start = chrono::Utc::now() + chrono::Duration::days(1);
    let event = app
        .published_event(
            &token,
            &program,
            start,
            3,
            json!({"title": "Beach clean-up"}),
        )
        .await;
    (app, Running { coordinator, site }, event)
}

/// A coordinator and the site they run.
struct Running {
    coordinator: common::TestUser,
    site: Id,
}

/// Renames the event straight in the database, as another instance or the command line would:
/// nothing in this instance hears of it.
fn rename_behind_the_apps_back(app: &TestApp, event: &str, title: &str) {
    let id: Id = event.parse().unwrap();
    let n = diesel::update(events::table.filter(events::id.eq(id)))
        .set(events::title.eq(title))
        .execute(&mut app.conn())
        .unwrap();
    assert_eq!(n, 1);
}

async fn titles(app: &TestApp, token: &str, path: &str) -> Vec<String> {
    let (status, _, body) = app.get_as(token, path).await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn metric(app: &TestApp, line_start: &str) -> String {
    let mut res = app.client().get(app.url("/metrics")).send().await.unwrap();
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    text.lines()
        .find(|l| l.starts_with(line_start))
        .unwrap_or_default()
        .to_owned()
}

async fn a_repeated_employee_list_is_answered_from_memory_until_a_write(backend: Backend) {
    let (app, running, event) = app_with_event(backend, 60_000).await;
    let employee = app.user(Role::Employee, None);
    let token = app.token(&employee);
    assert_eq!(
        titles(&app, &token, "/api/v1/events").await,
        ["Beach clean-up"]
    );

    rename_behind_the_apps_back(&app, &event, "River clean-up");
    assert_eq!(
        titles(&app, &token, "/api/v1/events").await,
        ["Beach clean-up"],
        "the same query again within the ttl is the kept page"
    );
    // Another employee asks the same: the page is the same for every employee.
    let other = app.token(&app.user(Role::Employee, None));
    assert_eq!(
        titles(&app, &other, "/api/v1/events").await,
        ["Beach clean-up"]
    );
    // Another query (another page size) is read.
    assert_eq!(
        titles(&app, &token, "/api/v1/events?limit=10").await,
        ["River clean-up"]
    );
    // The web page lists through the same cache (its own query, read the first time).
    let mut browser = Browser::default();
    browser.sign_in(&app, &employee).await;
    let page = browser.get(&app, "/events").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("River clean-up"), "{}", page.body);
    assert!(page.body.contains("Site CACHE"), "{}", page.body);
    rename_behind_the_apps_back(&app, &event, "Park clean-up");
    // The listed events' site names are kept with the page, under the same rule.
    let n = diesel::update(sites::table.filter(sites::id.eq(running.site)))
        .set(sites::name.eq("Harbour site"))
        .execute(&mut app.conn())
        .unwrap();
    assert_eq!(n, 1);
    let page = browser.get(&app, "/events").await;
    assert!(page.body.contains("River clean-up"), "{}", page.body);
    assert!(!page.body.contains("Park clean-up"), "{}", page.body);
    assert!(page.body.contains("Site CACHE"), "{}", page.body);
    assert!(!page.body.contains("Harbour site"), "{}", page.body);

    // Any write request to this instance (here: a sign-up) renews every page.
    app.sign_up(&employee, &event).await;
    assert_eq!(
        titles(&app, &token, "/api/v1/events").await,
        ["Park clean-up"]
    );
    let (_, _, body) = app.get_as(&token, "/api/v1/events").await;
    assert_eq!(body["items"][0]["seats_taken"], 1, "{body}");
    let page = browser.get(&app, "/events").await;
    assert!(page.body.contains("Park clean-up"), "{}", page.body);
    assert!(page.body.contains("Harbour site"), "{}", page.body);

    assert_eq!(
        metric(&app, r#"tomoni_event_list_pages_total{from="memory"}"#).await,
        r#"tomoni_event_list_pages_total{from="memory"} 4"#
    );
}

async fn the_caller_is_checked_when_the_list_comes_from_memory(backend: Backend) {
    let (app, _, _) = app_with_event(backend, 60_000).await;
    let employee = app.user(Role::Employee, None);
    let token = app.token(&employee);
    assert_eq!(
        titles(&app, &token, "/api/v1/events").await,
        ["Beach clean-up"]
    );
    let (status, _, _) = app.get_as(&token, "/api/v1/events").await;
    assert_eq!(status, 200);
    // Deactivated straight in the database (HR on another instance): the kept page is not
    // reason enough to answer.
    diesel::update(users::table.filter(users::id.eq(employee.id)))
        .set(users::active.eq(false))
        .execute(&mut app.conn())
        .unwrap();
    let (status, _, body) = app.get_as(&token, "/api/v1/events").await;
    assert_eq!(status, 401, "{body}");
    // A tampered token gets nothing either.
    let (status, _, _) = app.get_as(&format!("{token}x"), "/api/v1/events").await;
    assert_eq!(status, 401);
}

async fn lists_that_depend_on_the_caller_are_always_read(backend: Backend) {
    let (app, running, event) = app_with_event(backend, 60_000).await;
    let token = app.token(&running.coordinator);
    let hr = app.token(&app.user(Role::Hr, None));
    assert_eq!(
        titles(&app, &token, "/api/v1/events").await,
        ["Beach clean-up"]
    );
    assert_eq!(
        titles(&app, &hr, "/api/v1/events").await,
        ["Beach clean-up"]
    );
    rename_behind_the_apps_back(&app, &event, "River clean-up");
    assert_eq!(
        titles(&app, &token, "/api/v1/events").await,
        ["River clean-up"]
    );
    assert_eq!(
        titles(&app, &hr, "/api/v1/events").await,
        ["River clean-up"]
    );
    assert_eq!(
        metric(&app, r#"tomoni_event_list_pages_total{from="memory"}"#).await,
        "",
        "no page came from memory"
    );
}

async fn a_write_on_another_instance_shows_once_the_kept_page_expires(backend: Backend) {
    const TTL: Duration = Duration::from_millis(1500);
    let (app, running, _) = app_with_event(backend, TTL.as_millis() as u64).await;
    let second = app.db.another_instance();
    let mut settings = second.settings();
    settings.database.list_cache_ms = app.settings.database.list_cache_ms;
    let other = TestApp::spawn_with(second, settings).await;
    let employee = app.user(Role::Employee, None);
    let token = app.token(&employee);
    let kept_at = Instant::now();
    assert_eq!(
        titles(&app, &token, "/api/v1/events").await,
        ["Beach clean-up"]
    );

    // The coordinator publishes a second event through the other instance.
    let c = other.token(&running.coordinator);
    let program = other
        .program(&c, running.site, json!({"code": "RIVER"}))
        .await;
    let start = chrono::Utc::now() + chrono::Duration::days(2);
    other
        .published_event(&c, &program, start, 3, json!({"title": "River clean-up"}))
        .await;
    // Until the kept page expires this instance answers with it; each round is a real request,
    // and the wait is bounded.
    let shown = loop {
        let seen = titles(&app, &token, "/api/v1/events").await;
        if seen.len() == 2 {
            break kept_at.elapsed();
        }
        assert!(
            kept_at.elapsed() < TTL * 4,
            "the other instance's event never showed: {seen:?}"
        );
        actix_web::rt::task::yield_now().await;
    };
    assert!(shown >= TTL, "shown after {shown:?}, before the ttl");
}

/// Statements `f` sends on a connection of its own (diesel's instrumentation counts them),
/// on its second run: a new PostgreSQL connection first looks up the type id of `uuid`.
fn statements<T>(app: &TestApp, f: impl Fn(&mut tomoni::db::AnyConnection) -> T) -> (usize, T) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut conn = tomoni::db::connect(&app.settings.database).expect("connect");
    f(&mut conn);
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    conn.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
        if let diesel::connection::InstrumentationEvent::StartQuery { .. } = event {
            seen.fetch_add(1, Ordering::SeqCst);
        }
    });
    let out = f(&mut conn);
    (count.load(Ordering::SeqCst), out)
}

async fn without_the_cache_the_page_and_its_callers_check_are_one_statement(backend: Backend) {
    let (app, running, _) = app_with_event(backend, 0).await;
    let employee = app.user(Role::Employee, None);
    let sign_in = Id::new();
    tomoni::auth::refresh::issue(&mut app.conn(), employee.id, sign_in, 3600).expect("sign in");
    let filter = |q: EventQuery| ListFilter::for_anyone(q, 50).unwrap().unwrap();

    let (sent, listed) = statements(&app, |c| {
        list_signed_in(c, employee.id, sign_in, &filter(EventQuery::default()))
    });
    let (role, page) = listed.expect("listed");
    assert_eq!(role, Role::Employee);
    assert_eq!(
        page.iter().map(|e| e.title.as_str()).collect::<Vec<_>>(),
        ["Beach clean-up"]
    );
    assert_eq!(sent, 1, "the page and the caller's check in one statement");

    // An empty page tells nothing of the caller: it is then looked up on its own.
    let nothing = EventQuery {
        q: Some("no such title".into()),
        ..EventQuery::default()
    };
    let (sent, listed) = statements(&app, |c| {
        list_signed_in(c, employee.id, sign_in, &filter(nothing.clone()))
    });
    assert_eq!(listed.expect("listed").1.len(), 0);
    assert_eq!(sent, 2);

    // Drafts depend on who asks: no filter for anyone.
    let drafts = EventQuery {
        status: Some(tomoni::programs::events::EventStatus::Draft),
        ..EventQuery::default()
    };
    assert!(ListFilter::for_anyone(drafts, 50).unwrap().is_none());

    // Over HTTP, each role sees the published page; every page was read.
    for token in [
        app.token(&employee),
        app.token(&running.coordinator),
        app.token(&app.user(Role::Hr, None)),
    ] {
        assert_eq!(
            titles(&app, &token, "/api/v1/events").await,
            ["Beach clean-up"]
        );
    }
    assert_eq!(
        metric(&app, r#"tomoni_event_list_pages_total{from="database"}"#).await,
        r#"tomoni_event_list_pages_total{from="database"} 3"#
    );
    assert_eq!(
        metric(
            &app,
            r#"tomoni_db_replica_eligible_reads_total{from="primary"}"#
        )
        .await,
        r#"tomoni_db_replica_eligible_reads_total{from="primary"} 1"#,
        "the employee's page could have come from a replica, the others' could not"
    );
    // JSON, with the next page's cursor when there is one, and that page.
    let c = app.token(&running.coordinator);
    let program = app
        .program(&c, running.site, json!({"code": "SECOND"}))
        .await;
    let later = chrono::Utc::now() + chrono::Duration::days(2);
    app.published_event(&c, &program, later, 3, json!({"title": "River clean-up"}))
        .await;
    let e = app.token(&employee);
    let (status, content_type, first) = app.get_as(&e, "/api/v1/events?limit=1").await;
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/json"),
        "{first}"
    );
    assert_eq!(first["items"][0]["title"], "Beach clean-up", "{first}");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let (status, _, second) = app
        .get_as(&e, &format!("/api/v1/events?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["items"][0]["title"], "River clean-up", "{second}");
    assert!(second["next_cursor"].is_null(), "{second}");
    // A coordinator's drafts take the usual way and are theirs only.
    let c = app.token(&running.coordinator);
    let (status, _, body) = app.get_as(&c, "/api/v1/events?status=draft").await;
    assert_eq!(status, 200, "{body}");
    let e = app.token(&employee);
    let (status, _, body) = app.get_as(&e, "/api/v1/events?status=draft").await;
    assert_eq!(status, 403, "{body}");
}

async fn without_the_cache_an_ended_or_deactivated_caller_gets_401_as_elsewhere(backend: Backend) {
    let (app, _, _) = app_with_event(backend, 0).await;
    let employee = app.user(Role::Employee, None);
    let token = app.token(&employee);
    assert_eq!(
        titles(&app, &token, "/api/v1/events").await,
        ["Beach clean-up"]
    );

    // The sign-in ended (a logout elsewhere): the page is there, the caller is not.
    diesel::update(refresh_tokens::table.filter(refresh_tokens::user_id.eq(employee.id)))
        .set(refresh_tokens::revoked_at.eq(tomoni::db::Timestamp::now()))
        .execute(&mut app.conn())
        .unwrap();
    for path in [
        "/api/v1/events",
        "/api/v1/events?q=no+such+title",
        "/api/v1/events?cursor=not-a-cursor",
    ] {
        let (status, _, body) = app.get_as(&token, path).await;
        assert_eq!(status, 401, "{path}: {body}");
        assert_eq!(body["code"], "invalid_token", "{path}: {body}");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("sign-in has ended"),
            "{path}: {body}"
        );
    }

    // Deactivated with a live sign-in.
    let other = app.user(Role::Employee, None);
    let token = app.token(&other);
    assert_eq!(
        titles(&app, &token, "/api/v1/events").await,
        ["Beach clean-up"]
    );
    diesel::update(users::table.filter(users::id.eq(other.id)))
        .set(users::active.eq(false))
        .execute(&mut app.conn())
        .unwrap();
    let (status, _, body) = app.get_as(&token, "/api/v1/events").await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("deactivated"),
        "{body}"
    );
    // A tampered token never reaches the database.
    let (status, _, _) = app.get_as(&format!("{token}x"), "/api/v1/events").await;
    assert_eq!(status, 401);
    // A bad query from a live caller is still the query's fault.
    let live = app.token(&app.user(Role::Employee, None));
    let (status, _, body) = app
        .get_as(&live, "/api/v1/events?cursor=not-a-cursor")
        .await;
    assert_eq!(status, 400, "{body}");
}
