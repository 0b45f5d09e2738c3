//! The web pages over real HTTP, as a browser without JavaScript uses them: sign-in and its
//! session, CSRF and cross-site refusals, sign-up and cancel through forms, languages and the
//! security headers. The browser-driven flows are in `tests/browser.rs`.

mod common;

use chrono::{Duration, Utc};
use common::web::Browser;
use common::{Backend, TestApp, TestUser};
use diesel::prelude::*;
use serde_json::json;
use tomoni::auth::Role;
use tomoni::db::Timestamp;
use tomoni::db::schema::{signups, users, web_sessions};

/// An app with a coordinator's programme and one published event (capacity `capacity`, with
/// a waitlist), an hour-long event the day after tomorrow; returns the app, the event id and
/// an employee with a password.
async fn with_event(backend: Backend, capacity: i32) -> (TestApp, String, TestUser) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("WEB");
    let coordinator = app.coordinator(&[site]);
    let token = app.token(&coordinator);
    let program = app.program(&token, site, json!({})).await;
    let event = app
        .published_event(
            &token,
            &program,
            Utc::now() + Duration::days(2),
            3,
            json!({"title": "River clean-up", "capacity": capacity, "waitlist_enabled": true,
                   "timezone": "Asia/Tokyo", "location": "Tama river"}),
        )
        .await;
    let employee = app.user(Role::Employee, Some(site));
    (app, event, employee)
}

fn live_signups(app: &TestApp, user: &TestUser) -> Vec<String> {
    signups::table
        .filter(signups::user_id.eq(user.id))
        .filter(signups::status.ne("cancelled"))
        .select(signups::status)
        .load(&mut app.conn())
        .expect("sign-ups")
}

async fn signing_in_starts_a_session_row_and_signing_out_ends_it(backend: Backend) {
    let (app, _event, employee) = with_event(backend, 10).await;
    let mut browser = Browser::default();
    let page = browser.get(&app, "/events").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location().as_deref(), Some("/sign-in?next=%2Fevents"));

    // A session id planted before sign-in is not carried over: sign-in sets a new one.
    browser
        .cookies
        .push(("tomoni_session".into(), "planted-by-someone-else".into()));
    let signed = browser.sign_in(&app, &employee).await;
    let cookie = signed
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("tomoni_session="))
        .expect("session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    assert!(
        !cookie.contains("Secure"),
        "plain http: no Secure flag: {cookie}"
    );
    let secret = browser.session().expect("a session");
    assert_ne!(secret, "planted-by-someone-else");
    let rows: i64 = web_sessions::table
        .filter(web_sessions::user_id.eq(employee.id))
        .filter(web_sessions::ended_at.is_null())
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(rows, 1);
    // Only its hash is stored.
    let stored: Vec<String> = web_sessions::table
        .select(web_sessions::secret_hash)
        .load(&mut app.conn())
        .unwrap();
    assert!(!stored.contains(&secret));

    let events = browser.get(&app, "/events").await;
    assert_eq!(events.status, 200, "{}", events.body);
    assert!(events.body.contains("River clean-up"));
    let csrf = events.csrf();

    let out = browser.post(&app, "/sign-out", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location().as_deref(), Some("/sign-in?signed_out=1"));
    assert_eq!(browser.session(), None, "the cookie is removed");
    // The old cookie, replayed, signs nobody in: the row has ended.
    let mut replay = Browser::default();
    replay.cookies.push(("tomoni_session".into(), secret));
    let page = replay.get(&app, "/events").await;
    assert_eq!(page.status, 303, "ended session still works: {}", page.body);
}

async fn wrong_password_and_too_many_attempts_answer_on_the_form(backend: Backend) {
    let db = common::TestDb::new(&backend);
    let mut settings = db.settings();
    settings.auth.login_account_burst = 3;
    let app = TestApp::spawn_with(db, settings).await;
    let employee = app.user(Role::Employee, None);
    let mut browser = Browser::default();
    let form = [
        ("email", employee.email.as_str()),
        ("password", "wrong"),
        ("next", "/events"),
    ];
    let page = browser.post(&app, "/sign-in", &form).await;
    assert_eq!(page.status, 401);
    assert!(
        page.body.contains("Wrong email or password."),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&employee.email),
        "the email is kept in the form"
    );
    assert_eq!(browser.session(), None);
    let mut last = page;
    for _ in 0..3 {
        last = browser.post(&app, "/sign-in", &form).await;
    }
    assert_eq!(last.status, 429, "{}", last.body);
    assert!(last.header("retry-after").is_some());
    assert!(last.body.contains("Too many attempts"), "{}", last.body);
    let empty = browser
        .post(
            &app,
            "/sign-in",
            &[("email", ""), ("password", ""), ("next", "/")],
        )
        .await;
    assert_eq!(empty.status, 422);
    assert!(empty.body.contains("Enter your email and password."));
}

async fn a_full_event_puts_the_form_on_the_waitlist_and_a_cancellation_promotes(backend: Backend) {
    let (app, event, employee) = with_event(backend, 1).await;
    let first = app.user(Role::Employee, None);
    let seat = app.sign_up(&first, &event).await;
    let mut browser = Browser::default();
    browser.sign_in(&app, &employee).await;
    let page = browser.get(&app, &format!("/events/{event}")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Join the waitlist"), "{}", page.body);
    assert!(page.body.contains("Tama river"));
    let csrf = page.csrf();
    let done = browser
        .post(
            &app,
            &format!("/events/{event}/sign-up"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location(), Some(format!("/events/{event}")));
    let page = browser.get(&app, &format!("/events/{event}")).await;
    assert!(
        page.body.contains("You are number 1 on the waitlist."),
        "{}",
        page.body
    );
    assert_eq!(live_signups(&app, &employee), vec!["waitlisted"]);
    // Twice is refused with the reason on the page and the API's status.
    let again = browser
        .post(
            &app,
            &format!("/events/{event}/sign-up"),
            &[("csrf", &csrf)],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("already signed up"), "{}", again.body);

    app.cancel(&first, seat["id"].as_str().unwrap()).await;
    let page = browser.get(&app, &format!("/events/{event}")).await;
    assert!(page.body.contains("You are signed up."), "{}", page.body);
    let mine = browser.get(&app, "/my/signups").await;
    assert!(
        mine.body.contains("River clean-up") && mine.body.contains("Confirmed"),
        "{}",
        mine.body
    );

    let signup: String = signups::table
        .filter(signups::user_id.eq(employee.id))
        .select(signups::id)
        .first::<tomoni::db::Id>(&mut app.conn())
        .unwrap()
        .to_string();
    let cancelled = browser
        .post(
            &app,
            &format!("/signups/{signup}/cancel"),
            &[("csrf", &csrf), ("event", &event)],
        )
        .await;
    assert_eq!(cancelled.status, 303, "{}", cancelled.body);
    assert!(live_signups(&app, &employee).is_empty());
    let ics = browser
        .get(&app, &format!("/events/{event}/calendar.ics"))
        .await;
    assert_eq!(ics.status, 200);
    assert!(ics.body.starts_with("BEGIN:VCALENDAR"), "{}", ics.body);
    assert!(ics.body.contains("SUMMARY:River clean-up"));
}

async fn cross_site_and_tokenless_posts_change_nothing(backend: Backend) {
    let (app, event, employee) = with_event(backend, 10).await;
    let mut browser = Browser::default();
    browser.sign_in(&app, &employee).await;
    let csrf = browser.get(&app, &format!("/events/{event}")).await.csrf();
    let path = format!("/events/{event}/sign-up");
    let from_elsewhere = browser
        .post_from(
            &app,
            &path,
            &[("csrf", &csrf)],
            &[("Sec-Fetch-Site", "cross-site")],
        )
        .await;
    assert_eq!(from_elsewhere.status, 403, "{}", from_elsewhere.body);
    assert!(
        from_elsewhere.body.contains("another site"),
        "{}",
        from_elsewhere.body
    );
    assert!(from_elsewhere.header("content-security-policy").is_some());
    let other_origin = browser
        .post_from(
            &app,
            &path,
            &[("csrf", &csrf)],
            &[("Origin", "http://evil.example")],
        )
        .await;
    assert_eq!(other_origin.status, 403);
    let same_site = browser
        .post_from(
            &app,
            &path,
            &[("csrf", &csrf)],
            &[("Sec-Fetch-Site", "same-site")],
        )
        .await;
    assert_eq!(
        same_site.status, 403,
        "a sibling subdomain is another site too"
    );
    let no_token = browser.post(&app, &path, &[]).await;
    assert_eq!(no_token.status, 403);
    let wrong_token = browser.post(&app, &path, &[("csrf", "0000")]).await;
    assert_eq!(wrong_token.status, 403);
    assert!(wrong_token.body.contains("expired"), "{}", wrong_token.body);
    // A sign-in posted from another site (login CSRF) is refused too.
    let mut stranger = Browser::default();
    let login = stranger
        .post_from(
            &app,
            "/sign-in",
            &[("email", &employee.email), ("password", &employee.password)],
            &[("Origin", "http://evil.example")],
        )
        .await;
    assert_eq!(login.status, 403);
    assert_eq!(stranger.session(), None);
    assert!(
        live_signups(&app, &employee).is_empty(),
        "nothing was written"
    );
    // The real form still works afterwards.
    let ok = browser.post(&app, &path, &[("csrf", &csrf)]).await;
    assert_eq!(ok.status, 303);
    assert_eq!(live_signups(&app, &employee), vec!["confirmed"]);
}

async fn ended_expired_and_foreign_sessions_cannot_act(backend: Backend) {
    let (app, event, employee) = with_event(backend, 10).await;
    let signup = app.sign_up(&employee, &event).await;
    let signup_id = signup["id"].as_str().unwrap().to_owned();
    let cancel = format!("/signups/{signup_id}/cancel");

    // Another employee's session cannot cancel it: 404, as in the API.
    let other = app.user(Role::Employee, None);
    let mut theirs = Browser::default();
    theirs.sign_in(&app, &other).await;
    let csrf = theirs.get(&app, "/events").await.csrf();
    let refused = theirs
        .post(&app, &cancel, &[("csrf", &csrf), ("event", &event)])
        .await;
    assert_eq!(refused.status, 404, "{}", refused.body);
    assert_eq!(live_signups(&app, &employee), vec!["confirmed"]);

    // An expired session is no session: the form goes to sign-in, nothing changes.
    let mut mine = Browser::default();
    mine.sign_in(&app, &employee).await;
    let csrf = mine.get(&app, "/events").await.csrf();
    diesel::update(web_sessions::table.filter(web_sessions::user_id.eq(employee.id)))
        .set(web_sessions::expires_at.eq(Timestamp::from(Utc::now() - Duration::seconds(1))))
        .execute(&mut app.conn())
        .unwrap();
    let expired = mine
        .post(&app, &cancel, &[("csrf", &csrf), ("event", &event)])
        .await;
    assert_eq!(expired.status, 303);
    assert!(
        expired
            .location()
            .unwrap_or_default()
            .starts_with("/sign-in")
    );
    assert_eq!(live_signups(&app, &employee), vec!["confirmed"]);

    // A password change ends every session of the account.
    let mut again = Browser::default();
    again.sign_in(&app, &employee).await;
    assert_eq!(again.get(&app, "/events").await.status, 200);
    tomoni::people::users::set_password(&mut app.conn(), employee.id, "a-new-long-password")
        .unwrap();
    assert_eq!(again.get(&app, "/events").await.status, 303);

    // So does deactivation.
    let mut theirs_again = Browser::default();
    theirs_again.sign_in(&app, &other).await;
    let admin = app.user(Role::Admin, None);
    let (status, _, body) = app
        .call(
            "PATCH",
            &format!("/api/v1/users/{}", other.id),
            Some(&app.token(&admin)),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(theirs_again.get(&app, "/events").await.status, 303);
}

async fn the_cookie_never_authenticates_the_api(backend: Backend) {
    let (app, _event, employee) = with_event(backend, 10).await;
    let mut browser = Browser::default();
    browser.sign_in(&app, &employee).await;
    let page = browser.get(&app, "/api/v1/me").await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert!(
        page.header("content-type")
            .unwrap_or_default()
            .starts_with("application/problem+json")
    );
}

async fn pages_speak_the_readers_language_and_carry_security_headers(backend: Backend) {
    let (app, event, employee) = with_event(backend, 10).await;
    let mut browser = Browser {
        accept_language: Some("ja-JP,ja;q=0.9,en;q=0.5".into()),
        ..Browser::default()
    };
    let signin = browser.get(&app, "/sign-in").await;
    assert!(signin.body.contains("<html lang=\"ja\">"));
    assert!(signin.body.contains("ログイン"));
    let csp = signin.header("content-security-policy").expect("CSP");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(
        signin.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert_eq!(
        signin.header("referrer-policy").as_deref(),
        Some("same-origin")
    );
    browser.sign_in(&app, &employee).await;
    // Signed in, the account's language (English) wins over the browser's.
    let page = browser.get(&app, &format!("/events/{event}")).await;
    assert!(page.body.contains("<html lang=\"en\">"), "{}", page.body);
    diesel::update(users::table.filter(users::id.eq(employee.id)))
        .set(users::locale.eq("ja"))
        .execute(&mut app.conn())
        .unwrap();
    let page = browser.get(&app, &format!("/events/{event}")).await;
    assert!(page.body.contains("JST"), "{}", page.body);
    assert!(
        page.body.contains("年") && page.body.contains("参加する"),
        "{}",
        page.body
    );
    assert_eq!(page.header("cache-control").as_deref(), Some("no-store"));
    // The switch remembers English over the account's Japanese.
    let switched = browser
        .get(&app, &format!("/lang/en?next=/events/{event}"))
        .await;
    assert_eq!(switched.status, 303);
    assert_eq!(switched.location(), Some(format!("/events/{event}")));
    let page = browser.get(&app, &format!("/events/{event}")).await;
    assert!(page.body.contains("<html lang=\"en\">") && page.body.contains("Sign up"));
    // A page that does not exist is a page too, not problem+json.
    let missing = browser.get(&app, "/no/such/page").await;
    assert_eq!(missing.status, 404);
    assert!(
        missing
            .header("content-type")
            .unwrap_or_default()
            .starts_with("text/html")
    );
    let bad_event = browser
        .get(&app, &format!("/events/{}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(bad_event.status, 404);
    // The API keeps answering problem+json for its unknown routes.
    let api = browser.get(&app, "/api/v1/nothing").await;
    assert!(
        api.header("content-type")
            .unwrap_or_default()
            .starts_with("application/problem+json")
    );
}

async fn the_list_filters_and_pages_through_the_api_rules(backend: Backend) {
    let (app, _event, employee) = with_event(backend, 10).await;
    let site = app.site("WEB2");
    let coordinator = app.coordinator(&[site]);
    let token = app.token(&coordinator);
    let program = app
        .program(&token, site, json!({"code": "TREES", "title": "Trees"}))
        .await;
    for i in 0..25 {
        app.published_event(
            &token,
            &program,
            Utc::now() + Duration::days(3) + Duration::hours(4 * i),
            1,
            json!({"title": format!("Tree planting {i:02}"), "capacity": 5}),
        )
        .await;
    }
    let mut browser = Browser::default();
    browser.sign_in(&app, &employee).await;
    let river = browser.get(&app, "/events?q=river").await;
    assert!(river.body.contains("River clean-up"));
    assert!(!river.body.contains("Tree planting"));
    let first = browser.get(&app, "/events?q=tree").await;
    assert_eq!(first.body.matches("class=\"card\"").count(), 20);
    assert!(first.body.contains("Tree planting 00") && !first.body.contains("Tree planting 20"));
    let more = first
        .body
        .split("href=\"")
        .find(|s| s.starts_with("&#x2f;events?") || s.starts_with("/events?"))
        .map(|s| {
            s.split('"')
                .next()
                .unwrap()
                .replace("&#x2f;", "/")
                .replace("&amp;", "&")
        })
        .expect("a more link");
    assert!(
        more.contains("q=tree") && more.contains("cursor="),
        "{more}"
    );
    let second = browser.get(&app, &more).await;
    assert_eq!(
        second.body.matches("class=\"card\"").count(),
        5,
        "{}",
        second.body
    );
    assert!(second.body.contains("Tree planting 24"));
    // A bad filter is said on the page, with the API's status.
    let bad = browser.get(&app, "/events?from=yesterday").await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("from"), "{}", bad.body);
    let bad_site = browser.get(&app, "/events?site=nope").await;
    assert_eq!(bad_site.status, 400);
}

both_backends!(
    signing_in_starts_a_session_row_and_signing_out_ends_it,
    wrong_password_and_too_many_attempts_answer_on_the_form,
    a_full_event_puts_the_form_on_the_waitlist_and_a_cancellation_promotes,
    cross_site_and_tokenless_posts_change_nothing,
    ended_expired_and_foreign_sessions_cannot_act,
    the_cookie_never_authenticates_the_api,
    pages_speak_the_readers_language_and_carry_security_headers,
    the_list_filters_and_pages_through_the_api_rules,
);
