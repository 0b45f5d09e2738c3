//! The employee's path in a real headless Chromium, on both databases, in English at desktop
//! width and in Japanese at phone width (and the other two combinations, for the screenshots):
//! sign in, filter, join the waitlist of a full event, see the seat arrive when someone
//! cancels, cancel, download the calendar file, sign out. axe-core checks every page.
//!
//! With `TOMONI_SCREENSHOTS=<folder>` the list and the event page are saved there (that is how
//! `docs/screenshots/` is made: `TOMONI_SCREENSHOTS=docs/screenshots cargo test --test browser`).

mod common;

use chrono::{Duration, Utc};
use common::chrome::{Chrome, Lang, says};
use common::{Backend, TestApp};
use serde_json::json;
use tomoni::auth::Role;

async fn employee_path(backend: Backend, lang: Lang, width: u32, height: u32, label: &str) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    let test = format!("employee_path-{label}-{db_name}");
    let Some(chrome) = Chrome::start(&test, &app.url(""), width, height).await else {
        return;
    };
    let site = app.site("TKY");
    let coordinator = app.coordinator(&[site]);
    let token = app.token(&coordinator);
    let program = app
        .program(&token, site, json!({"title": "Tama river programme"}))
        .await;
    let start = Utc::now() + Duration::days(2);
    let full = app
        .published_event(
            &token,
            &program,
            start,
            3,
            json!({"title": "River clean-up", "capacity": 1, "waitlist_enabled": true,
                   "timezone": "Asia/Tokyo", "location": "Tama river, Futako-tamagawa",
                   "description": "Gloves and bags are provided.\n\nMeet at the station."}),
        )
        .await;
    app.published_event(
        &token,
        &program,
        start + Duration::days(1),
        2,
        json!({"title": "Beach clean-up", "capacity": 20, "timezone": "Asia/Tokyo"}),
    )
    .await;
    // Starting soon: check-in (open from an hour before) works now.
    let soon = app
        .published_event(
            &token,
            &program,
            Utc::now() + Duration::minutes(30),
            2,
            json!({"title": "Park clean-up", "capacity": 10, "timezone": "Asia/Tokyo"}),
        )
        .await;
    let first = app.user(Role::Employee, Some(site));
    let seat = app.sign_up(&first, &full).await;
    let employee = app.user(Role::Employee, Some(site));
    app.sign_up(&employee, &soon).await;
    let (status, _, code) = app
        .get_as(&token, &format!("/api/v1/events/{soon}/check-in-code"))
        .await;
    assert_eq!(status, 200, "{code}");
    let qr_link = code["qr_payload"].as_str().expect("QR payload").to_owned();

    // Signed out, the list sends to sign-in.
    chrome.goto("/events").await;
    if !chrome.path().await.starts_with("/sign-in") {
        chrome
            .fail(
                "sign-in redirect",
                "the event list did not ask to sign in".into(),
            )
            .await;
    }
    if let Lang::Ja = lang {
        chrome.click("language switch", "a[hreflang=ja]").await;
    }
    chrome
        .expect_text("sign-in page", "h1", says(lang, "Sign in", "ログイン"))
        .await;
    chrome.axe("sign-in page").await;
    chrome.sign_in(&employee).await;
    chrome
        .expect_text(
            "event list",
            "h1",
            says(lang, "Upcoming events", "これからのイベント"),
        )
        .await;
    chrome
        .expect_text("both events listed", "#event-list", "Beach clean-up")
        .await;
    chrome.axe("event list").await;
    chrome.shot("events", label).await;

    // Filter by text: only the river.
    chrome
        .click("open filters", "details.filters summary")
        .await;
    chrome.fill("text filter", "#f-q", "river").await;
    chrome
        .click("apply filters", "form.filters button[type=submit]")
        .await;
    chrome.expect_path("filtered list loaded", "q=river").await;
    let listed = chrome
        .expect_text("filtered list", "#event-list", "River clean-up")
        .await;
    if listed.contains("Beach clean-up") {
        chrome
            .fail("filtered list", format!("the filter let through: {listed}"))
            .await;
    }
    // Free places only: the full river event goes.
    chrome.click("free only", "#f-free").await;
    chrome
        .click("apply filters again", "form.filters button[type=submit]")
        .await;
    chrome
        .expect_text(
            "nothing free",
            "main",
            says(lang, "No events match", "条件に合うイベントはありません"),
        )
        .await;
    chrome.axe("event list with filters").await;

    // The full event: join its waitlist.
    chrome.goto(&format!("/events/{full}")).await;
    chrome
        .expect_text("event page", "h1", "River clean-up")
        .await;
    chrome
        .expect_text("event time in its zone", "dl", "JST")
        .await;
    chrome
        .expect_text(
            "waitlist button",
            "#sign-up",
            says(lang, "Join the waitlist", "キャンセル待ちに登録"),
        )
        .await;
    chrome.axe("event page").await;
    chrome.shot("event", label).await;
    chrome.click("join the waitlist", "#sign-up").await;
    chrome
        .expect_text(
            "waitlisted",
            "#my-status",
            says(
                lang,
                "You are number 1 on the waitlist.",
                "キャンセル待ち 1 番目です。",
            ),
        )
        .await;
    chrome.axe("event page, waitlisted").await;

    // The seat holder cancels through the API; the page shows the seat as ours.
    app.cancel(&first, seat["id"].as_str().expect("sign-up id"))
        .await;
    chrome.client.refresh().await.expect("reload");
    chrome
        .expect_text(
            "promoted",
            "#my-status",
            says(lang, "You are signed up.", "参加が確定しています。"),
        )
        .await;

    // The calendar file, as the link downloads it.
    let ics = chrome
        .fetch_text(&format!("/events/{full}/calendar.ics"))
        .await;
    if !(ics.starts_with("BEGIN:VCALENDAR") && ics.contains("SUMMARY:River clean-up")) {
        chrome.fail("calendar file", format!("got {ics:?}")).await;
    }

    // My sign-ups lists it as confirmed.
    chrome.goto("/my/signups").await;
    chrome
        .expect_text("my sign-ups", "#upcoming", says(lang, "Confirmed", "確定"))
        .await;
    chrome.axe("my sign-ups").await;
    chrome.goto("/my/hours").await;
    chrome
        .expect_text(
            "my hours",
            "main",
            says(
                lang,
                "No volunteer hours recorded yet.",
                "活動の記録はまだありません。",
            ),
        )
        .await;
    chrome.axe("my hours").await;
    chrome.goto("/my/calendar").await;
    chrome.click("new feed address", "#feed-new").await;
    let feed = chrome.find("feed address", "#feed-url").await;
    let url = feed.prop("value").await.ok().flatten().unwrap_or_default();
    if !url.contains("/api/v1/me/calendar.ics?token=") {
        chrome.fail("feed address", format!("got {url:?}")).await;
    }
    // The copy button exists only with the script (127.0.0.1 is a secure context, so the
    // clipboard is open to it).
    chrome.click("copy the feed address", "#feed-copy").await;
    chrome
        .expect_text(
            "feed address copied",
            "#feed-copy-status",
            says(lang, "Copied.", "コピーしました。"),
        )
        .await;
    let subscribe = chrome.find("subscribe link", "#feed-subscribe").await;
    let webcal = subscribe
        .attr("href")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    if webcal != url.replacen("http://", "webcal://", 1) {
        chrome
            .fail("subscribe link", format!("got {webcal:?} for {url:?}"))
            .await;
    }
    chrome.axe("my calendar").await;
    chrome.shot("calendar", label).await;
    chrome.goto("/my/profile").await;
    chrome.find("profile", "#display_name").await;
    chrome.axe("my profile").await;

    // Cancel before the deadline.
    chrome.goto(&format!("/events/{full}")).await;
    chrome.click("cancel", "#cancel").await;
    chrome
        .expect_text(
            "cancelled",
            "#my-status",
            says(
                lang,
                "You cancelled your sign-up.",
                "参加を取り消しました。",
            ),
        )
        .await;

    // Check in from the QR code's link, as a phone's camera opens it.
    chrome
        .client
        .goto(&qr_link)
        .await
        .expect("open the QR link");
    chrome
        .expect_text(
            "check-in page",
            "h1",
            says(lang, "Check in", "チェックイン"),
        )
        .await;
    chrome.axe("check-in page").await;
    chrome.click("check in", "#check-in").await;
    chrome
        .expect_text(
            "checked in",
            "#check-in-result",
            says(lang, "You are checked in.", "チェックインしました。"),
        )
        .await;
    chrome.axe("check-in page, done").await;

    // Sign out: the list asks for sign-in again.
    chrome.click("sign out", ".sign-out button").await;
    chrome
        .expect_text(
            "signed out",
            "main",
            says(lang, "You are signed out.", "ログアウトしました。"),
        )
        .await;
    chrome.goto("/events").await;
    if !chrome.path().await.starts_with("/sign-in") {
        chrome
            .fail("after sign-out", "the list opened without a session".into())
            .await;
    }
    chrome.axe("error-free sign-in page after sign-out").await;
    chrome.close().await;
}

/// The pages a signed-out person sees, in both languages at phone width: accessible too.
async fn signed_out_pages_pass_axe_in_both_languages(backend: Backend) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    let test = format!("signed_out_pages-{db_name}");
    let Some(chrome) = Chrome::start(&test, &app.url(""), 390, 844).await else {
        return;
    };
    for lang in ["en", "ja"] {
        chrome.goto(&format!("/lang/{lang}?next=/sign-in")).await;
        for (page, heading) in [
            ("/sign-in", "h1"),
            ("/forgot-password", "h1"),
            ("/set-password?token=unknown", "h1"),
            ("/set-password", "h1"),
            ("/no/such/page", "h1"),
        ] {
            chrome.goto(page).await;
            chrome.find(&format!("{page} ({lang})"), heading).await;
            chrome.axe(&format!("{page} ({lang})")).await;
        }
        chrome.goto("/forgot-password").await;
        chrome
            .fill("reset email", "#email", "someone@example.com")
            .await;
        chrome.click("ask for a link", "form.narrow button").await;
        chrome.find("link on its way", "#reset-sent").await;
        chrome.axe(&format!("reset asked ({lang})")).await;
    }
    chrome.close().await;
}

/// "More events" appends the next page in place (htmx, under the pages' CSP); its address is
/// the next page itself, which is what a browser without JavaScript opens.
async fn more_events_append_in_place(backend: Backend) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    let test = format!("more_events-{db_name}");
    let Some(chrome) = Chrome::start(&test, &app.url(""), 1280, 900).await else {
        return;
    };
    let site = app.site("MORE");
    let coordinator = app.coordinator(&[site]);
    let token = app.token(&coordinator);
    let program = app.program(&token, site, json!({})).await;
    for i in 0..25 {
        app.published_event(
            &token,
            &program,
            Utc::now() + Duration::days(2) + Duration::hours(4 * i),
            1,
            json!({"title": format!("Shift {i:02}"), "capacity": 5}),
        )
        .await;
    }
    let employee = app.user(Role::Employee, Some(site));
    chrome.goto("/sign-in").await;
    chrome.sign_in(&employee).await;
    chrome
        .expect_text("first page", "#event-list", "Shift 19")
        .await;
    let cards = || async {
        chrome
            .client
            .execute(
                "return document.querySelectorAll('#event-list li.card').length;",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(0)
    };
    assert_eq!(cards().await, 20);
    let href = chrome
        .find("more link", "#more a")
        .await
        .attr("href")
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    chrome.click("more", "#more a").await;
    chrome
        .expect_text("second page appended", "#event-list", "Shift 24")
        .await;
    assert_eq!(
        cards().await,
        25,
        "the next five were added to the same list"
    );
    assert_eq!(
        chrome.path().await,
        "/events",
        "no navigation: appended in place"
    );
    let more_left = chrome
        .client
        .execute(
            "return document.querySelectorAll('#more a').length;",
            vec![],
        )
        .await
        .ok()
        .and_then(|v| v.as_u64());
    assert_eq!(more_left, Some(0), "the last page has no 'more'");
    // Without JavaScript the link is just the next page.
    chrome.goto(&href).await;
    chrome
        .expect_text("next page on its own", "#event-list", "Shift 24")
        .await;
    assert_eq!(cards().await, 5);
    chrome.close().await;
}

/// "Sign in with the company account" in the browser, through the provider the tests run.
async fn the_company_account_signs_in_through_the_provider(backend: Backend) {
    use common::oidc::{CLIENT_ID, CLIENT_SECRET, Person, Provider};
    let db_name = backend.name();
    let provider = Provider::start().await;
    let db = common::TestDb::new(&backend);
    let mut settings = db.settings();
    settings.auth.oidc.issuer_url = provider.issuer.clone();
    settings.auth.oidc.client_id = CLIENT_ID.into();
    settings.auth.oidc.client_secret = tomoni::config::Secret::new(CLIENT_SECRET);
    let app = TestApp::spawn_with(db, settings).await;
    let test = format!("company_sign_in-{db_name}");
    let Some(chrome) = Chrome::start(&test, &app.url(""), 390, 844).await else {
        return;
    };
    let employee = app.user(Role::Employee, None);
    provider.sign_in_as(Person {
        email: Some(employee.email.clone()),
        ..Person::default()
    });
    chrome.goto("/my/hours").await;
    chrome.find("sign-in page", "#oidc").await;
    chrome.axe("sign-in page with the company button").await;
    chrome.click("company sign-in", "#oidc").await;
    chrome
        .expect_text("back where we wanted", "h1", "My volunteer hours")
        .await;
    if chrome.path().await != "/my/hours" {
        chrome
            .fail("after company sign-in", "not on the page asked for".into())
            .await;
    }
    chrome.close().await;
}

async fn in_english_at_desktop_width(backend: Backend) {
    employee_path(backend, Lang::En, 1280, 900, "en-desktop").await;
}

async fn in_japanese_at_phone_width(backend: Backend) {
    employee_path(backend, Lang::Ja, 390, 844, "ja-phone").await;
}

async fn in_english_at_phone_width(backend: Backend) {
    employee_path(backend, Lang::En, 390, 844, "en-phone").await;
}

async fn in_japanese_at_desktop_width(backend: Backend) {
    employee_path(backend, Lang::Ja, 1280, 900, "ja-desktop").await;
}

both_backends!(
    the_company_account_signs_in_through_the_provider,
    more_events_append_in_place,
    signed_out_pages_pass_axe_in_both_languages,
    in_english_at_desktop_width,
    in_japanese_at_phone_width,
    in_english_at_phone_width,
    in_japanese_at_desktop_width,
);
