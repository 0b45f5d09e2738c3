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

async fn the_qr_link_opens_the_check_in_page_and_checks_in_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("QR");
    let coordinator = app.coordinator(&[site]);
    let token = app.token(&coordinator);
    let program = app.program(&token, site, json!({})).await;
    // Check-in opens an hour before the start.
    let event = app
        .published_event(
            &token,
            &program,
            Utc::now() + Duration::minutes(20),
            2,
            json!({"title": "Park clean-up", "capacity": 10}),
        )
        .await;
    let employee = app.user(Role::Employee, Some(site));
    app.sign_up(&employee, &event).await;
    let (status, _, code) = app
        .get_as(&token, &format!("/api/v1/events/{event}/check-in-code"))
        .await;
    assert_eq!(status, 200, "{code}");
    let link = code["qr_payload"].as_str().expect("QR payload").to_owned();
    let prefix = app.url(&format!("/events/{event}/check-in?code="));
    assert!(
        link.starts_with(&prefix),
        "the QR code is the page's address: {link}"
    );
    let path = link.trim_start_matches(&app.url(""));

    // Signed out, the link goes through sign-in and comes back with the code.
    let mut browser = Browser::default();
    let page = browser.get(&app, path).await;
    assert_eq!(page.status, 303, "{path}: {}", page.body);
    let to = page.location().unwrap_or_default();
    assert!(to.starts_with("/sign-in?next="), "{to}");
    let next = url::form_urlencoded::parse(to.split_once('?').unwrap().1.as_bytes())
        .find(|(k, _)| k == "next")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    assert_eq!(next, path);
    let signed = browser
        .post(
            &app,
            "/sign-in",
            &[
                ("email", &employee.email),
                ("password", &employee.password),
                ("next", &next),
            ],
        )
        .await;
    assert_eq!(signed.location().as_deref(), Some(path));
    let form = browser.get(&app, path).await;
    assert_eq!(form.status, 200, "{}", form.body);
    let shown = code["code"].as_str().unwrap();
    assert!(
        form.body.contains(&format!("value=\"{shown}\"")),
        "{}",
        form.body
    );
    assert!(form.body.contains("Park clean-up"));
    let csrf = form.csrf();
    let action = format!("/events/{event}/check-in");

    let wrong = browser
        .post(&app, &action, &[("csrf", &csrf), ("code", "WRONGCOD")])
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("not this event"), "{}", wrong.body);
    let done = browser
        .post(&app, &action, &[("csrf", &csrf), ("code", shown)])
        .await;
    assert_eq!(done.status, 201, "{}", done.body);
    assert!(done.body.contains("You are checked in."), "{}", done.body);
    let again = browser
        .post(&app, &action, &[("csrf", &csrf), ("code", shown)])
        .await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("already checked in"), "{}", again.body);
    let pending: i64 = tomoni::db::schema::attendance::table
        .filter(tomoni::db::schema::attendance::user_id.eq(employee.id))
        .filter(tomoni::db::schema::attendance::approval.eq("pending"))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(pending, 1, "one pending attendance, whatever the retries");
    // Without the form's token nothing happens.
    let forged = browser.post(&app, &action, &[("code", shown)]).await;
    assert_eq!(forged.status, 403);
}

async fn a_mailed_link_sets_the_password_and_signs_in_once(backend: Backend) {
    use tomoni::auth::links::{self, Purpose};
    let app = TestApp::spawn(backend).await;
    let employee = app.user(Role::Employee, None);
    let (link, _) = links::issue(
        &mut app.conn(),
        employee.id,
        Purpose::Reset,
        chrono::Duration::minutes(30),
        None,
    )
    .unwrap();
    // The secret exists only in the mail, minted when it is composed.
    let (secret, _) = links::mint(&mut app.conn(), link).unwrap().expect("minted");
    let path = format!("/set-password?token={secret}");
    let mut browser = Browser::default();
    let page = browser.get(&app, &path).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("value=\"{secret}\"")),
        "{}",
        page.body
    );
    let mismatch = browser
        .post(
            &app,
            "/set-password",
            &[
                ("token", &secret),
                ("password", "a-long-new-password"),
                ("repeat", "another-one-entirely"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, 422);
    assert!(mismatch.body.contains("differ"), "{}", mismatch.body);
    let short = browser
        .post(
            &app,
            "/set-password",
            &[
                ("token", &secret),
                ("password", "short"),
                ("repeat", "short"),
            ],
        )
        .await;
    assert_eq!(short.status, 422);
    assert!(short.body.contains("at least 12"), "{}", short.body);
    let set = browser
        .post(
            &app,
            "/set-password",
            &[
                ("token", &secret),
                ("password", "a-long-new-password"),
                ("repeat", "a-long-new-password"),
            ],
        )
        .await;
    assert_eq!(set.status, 303, "{}", set.body);
    assert_eq!(set.location().as_deref(), Some("/events"));
    assert!(
        browser.session().is_some(),
        "signed in after choosing the password"
    );
    assert_eq!(browser.get(&app, "/events").await.status, 200);
    let old = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": employee.email, "password": employee.password}),
        )
        .await;
    assert_eq!(old.0, 401, "the old password is gone");
    let new = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": employee.email, "password": "a-long-new-password"}),
        )
        .await;
    assert_eq!(new.0, 200);
    let reused = Browser::default()
        .post(
            &app,
            "/set-password",
            &[
                ("token", &secret),
                ("password", "yet-another-password"),
                ("repeat", "yet-another-password"),
            ],
        )
        .await;
    assert_eq!(reused.status, 400);
    assert!(
        reused.body.contains("already used or expired"),
        "{}",
        reused.body
    );
    let bare = Browser::default().get(&app, "/set-password").await;
    assert!(bare.body.contains("already used or expired"));
}

async fn forgot_password_answers_the_same_for_every_address(backend: Backend) {
    use tomoni::db::schema::password_links;
    let app = TestApp::spawn(backend).await;
    let employee = app.user(Role::Employee, None);
    let mut browser = Browser::default();
    let form = browser.get(&app, "/forgot-password").await;
    assert_eq!(form.status, 200);
    let known = browser
        .post(&app, "/forgot-password", &[("email", &employee.email)])
        .await;
    let unknown = browser
        .post(&app, "/forgot-password", &[("email", "nobody@example.com")])
        .await;
    assert_eq!((known.status, unknown.status), (200, 200));
    let sent = |p: &common::web::Page| p.body.contains("If the address belongs to an account");
    assert!(sent(&known) && sent(&unknown), "{}", known.body);
    let links: i64 = password_links::table
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(links, 1, "a link only for the real account");
    let empty = browser
        .post(&app, "/forgot-password", &[("email", "")])
        .await;
    assert_eq!(empty.status, 422);
}

async fn my_hours_show_the_record_and_download_as_csv(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("HRS");
    let coordinator = app.coordinator(&[site]);
    let token = app.token(&coordinator);
    let program = app.program(&token, site, json!({})).await;
    // A past activity, recorded: attendance goes straight on it. 01:00 UTC: the three hours
    // fall on one local day in every zone (a span over midnight would default to two days).
    let start = (Utc::now() - Duration::days(10))
        .date_naive()
        .and_hms_opt(1, 0, 0)
        .expect("a time")
        .and_utc();
    let rfc = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let (status, _, event) = app
        .call(
            "POST",
            "/api/v1/events",
            Some(&token),
            Some(json!({"program_id": program, "title": "Seedling nursery",
                "starts_at": rfc(start), "ends_at": rfc(start + Duration::hours(3))})),
        )
        .await;
    assert_eq!(status, 201, "{event}");
    let event = event["id"].as_str().unwrap().to_owned();
    let employee = app.user(Role::Employee, Some(site));
    let (status, _, marked) = app
        .call(
            "PUT",
            &format!("/api/v1/events/{event}/attendance"),
            Some(&token),
            Some(json!({"entries": [{"user_id": employee.id.to_string(), "status": "attended"}]})),
        )
        .await;
    assert_eq!(status, 200, "{marked}");
    let ids: Vec<String> = marked["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let admin = app.user(Role::Admin, None);
    let (status, _, approved) = app
        .call(
            "POST",
            "/api/v1/attendance/approve",
            Some(&app.token(&admin)),
            Some(json!({ "ids": ids })),
        )
        .await;
    assert_eq!(status, 200, "{approved}");

    let mut browser = Browser::default();
    browser.sign_in(&app, &employee).await;
    let page = browser.get(&app, "/my/hours").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Seedling nursery"), "{}", page.body);
    assert!(
        page.body.contains("3.00") && page.body.contains("Approved"),
        "{}",
        page.body
    );
    let csv = browser.get(&app, "/my/hours.csv").await;
    assert_eq!(csv.status, 200);
    assert!(
        csv.header("content-type")
            .unwrap_or_default()
            .starts_with("text/csv")
    );
    assert!(csv.body.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(csv.body.contains("Seedling nursery"));
    let bad = browser.get(&app, "/my/hours?fiscal_year=soon").await;
    assert_eq!(bad.status, 400);
    // Someone else sees only their own (empty) record.
    let mut other = Browser::default();
    other.sign_in(&app, &app.user(Role::Employee, None)).await;
    let theirs = other.get(&app, "/my/hours").await;
    assert!(!theirs.body.contains("Seedling nursery"));
    assert!(theirs.body.contains("No volunteer hours recorded yet."));
}

async fn the_calendar_feed_address_is_made_replaced_and_turned_off(backend: Backend) {
    let (app, event, employee) = with_event(backend, 10).await;
    app.sign_up(&employee, &event).await;
    let mut browser = Browser::default();
    browser.sign_in(&app, &employee).await;
    let page = browser.get(&app, "/my/calendar").await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let feed_url = |p: &common::web::Page| {
        let marker = "id=\"feed-url\" readonly value=\"";
        let start = p.body.find(marker).expect("the feed address") + marker.len();
        p.body[start..]
            .split('"')
            .next()
            .unwrap()
            .replace("&#x2f;", "/")
            .replace("&amp;", "&")
    };
    let made = browser
        .post(&app, "/my/calendar", &[("csrf", &csrf), ("action", "new")])
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let first = feed_url(&made);
    assert!(
        first.starts_with(&app.url("/api/v1/me/calendar.ics?token=")),
        "{first}"
    );
    let path = |u: &str| u.trim_start_matches(&app.url("")).to_owned();
    let feed = Browser::default().get(&app, &path(&first)).await;
    assert_eq!(feed.status, 200);
    assert!(
        feed.body.contains("SUMMARY:River clean-up"),
        "{}",
        feed.body
    );
    let replaced = browser
        .post(&app, "/my/calendar", &[("csrf", &csrf), ("action", "new")])
        .await;
    let second = feed_url(&replaced);
    assert_ne!(first, second);
    assert_eq!(
        Browser::default().get(&app, &path(&first)).await.status,
        404
    );
    assert_eq!(
        Browser::default().get(&app, &path(&second)).await.status,
        200
    );
    let off = browser
        .post(&app, "/my/calendar", &[("csrf", &csrf), ("action", "off")])
        .await;
    assert!(off.body.contains("The feed is off"), "{}", off.body);
    assert_eq!(
        Browser::default().get(&app, &path(&second)).await.status,
        404
    );
}

async fn the_profile_changes_name_and_language_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let employee = app.user(Role::Employee, None);
    let mut browser = Browser::default();
    browser.sign_in(&app, &employee).await;
    let page = browser.get(&app, "/my/profile").await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(&employee.email));
    let csrf = page.csrf();
    let saved = browser
        .post(
            &app,
            "/my/profile",
            &[
                ("csrf", &csrf),
                ("display_name", "佐藤 愛子"),
                ("locale", "ja"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = browser.get(&app, "/my/profile?saved=1").await;
    assert!(
        page.body.contains("<html lang=\"ja\">"),
        "the pages now speak Japanese"
    );
    assert!(page.body.contains("保存しました。") && page.body.contains("佐藤 愛子"));
    let me = app.get_as(&app.token(&employee), "/api/v1/me").await.2;
    assert_eq!(
        (me["display_name"].as_str(), me["locale"].as_str()),
        (Some("佐藤 愛子"), Some("ja"))
    );
    // A blank name is refused on the form, with the field named, and nothing changes.
    let blank = browser
        .post(
            &app,
            "/my/profile",
            &[("csrf", &csrf), ("display_name", "  "), ("locale", "xx")],
        )
        .await;
    assert_eq!(blank.status, 422, "{}", blank.body);
    assert!(blank.body.contains("problem-display_name") && blank.body.contains("problem-locale"));
    let me = app.get_as(&app.token(&employee), "/api/v1/me").await.2;
    assert_eq!(me["display_name"], "佐藤 愛子");
    // The form cannot smuggle a role in: unknown fields are not part of the page's patch.
    let sneaky = browser
        .post(
            &app,
            "/my/profile",
            &[
                ("csrf", &csrf),
                ("display_name", "Aiko"),
                ("locale", "en"),
                ("role", "admin"),
            ],
        )
        .await;
    assert_eq!(sneaky.status, 303);
    let me = app.get_as(&app.token(&employee), "/api/v1/me").await.2;
    assert_eq!(me["role"], "employee");
}

both_backends!(
    the_profile_changes_name_and_language_and_nothing_else,
    my_hours_show_the_record_and_download_as_csv,
    the_calendar_feed_address_is_made_replaced_and_turned_off,
    a_mailed_link_sets_the_password_and_signs_in_once,
    forgot_password_answers_the_same_for_every_address,
    the_qr_link_opens_the_check_in_page_and_checks_in_once,
    signing_in_starts_a_session_row_and_signing_out_ends_it,
    wrong_password_and_too_many_attempts_answer_on_the_form,
    a_full_event_puts_the_form_on_the_waitlist_and_a_cancellation_promotes,
    cross_site_and_tokenless_posts_change_nothing,
    ended_expired_and_foreign_sessions_cannot_act,
    the_cookie_never_authenticates_the_api,
    pages_speak_the_readers_language_and_carry_security_headers,
    the_list_filters_and_pages_through_the_api_rules,
    the_event_list_takes_one_pool_turn_through_either_door,
);

/// The pool's turn counter from `/metrics`.
async fn pool_turns(app: &TestApp) -> u64 {
    let mut res = app.client().get(app.url("/metrics")).send().await.unwrap();
    let text = String::from_utf8(res.body().await.unwrap().to_vec()).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("tomoni_db_pool_turns_total "))
        .unwrap_or_else(|| panic!("no turn counter in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

/// Where a turn count starts: the counter after one scrape, and what a scrape itself takes.
async fn turns_start(app: &TestApp) -> (u64, u64) {
    let a = pool_turns(app).await;
    let b = pool_turns(app).await;
    (b, b - a)
}

/// Turns taken per view since `start`, without the closing scrape's own.
async fn turns_per_view(app: &TestApp, (from, scrape): (u64, u64), views: u64) -> u64 {
    let taken = pool_turns(app).await - from - scrape;
    assert_eq!(taken % views, 0, "{taken} turns for {views} views");
    taken / views
}

async fn the_event_list_takes_one_pool_turn_through_either_door(backend: Backend) {
    let (app, event, employee) = with_event(backend, 5).await;
    let token = app.token(&employee);
    let mut browser = Browser::default();
    browser.sign_in(&app, &employee).await;

    let start = turns_start(&app).await;
    for _ in 0..5 {
        let page = browser.get(&app, "/events").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("River clean-up"), "{}", page.body);
    }
    let page = turns_per_view(&app, start, 5).await;

    let start = turns_start(&app).await;
    for _ in 0..5 {
        let (status, _, body) = app.get_as(&token, "/api/v1/events").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["items"][0]["title"], "River clean-up");
    }
    let api = turns_per_view(&app, start, 5).await;
    assert_eq!(
        (page, api),
        (1, 1),
        "the page checks its session in the turn it reads the list in"
    );

    // The event page still checks the session in a turn of its own: the counter tells the two
    // apart.
    let start = turns_start(&app).await;
    let page = browser.get(&app, &format!("/events/{event}")).await;
    assert_eq!(page.status, 200);
    assert_eq!(turns_per_view(&app, start, 1).await, 2);
}
