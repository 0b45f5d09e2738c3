//! The coordinator's day in a real headless Chromium, on both databases, in English at desktop
//! width and in Japanese at phone width: make a three-day event in Asia/Tokyo and publish it,
//! see sign-ups arrive (from the API), move it to have started, watch a check-in arrive on the
//! check-in screen, add a walk-in, mark one person in place (htmx, no reload) and the rest with
//! "everyone attended", approve the hours; the employee's "my hours" and the statistics then
//! show them, and a coordinator of another site gets 404. axe-core checks every page.
//!
//! With `TOMONI_SCREENSHOTS=docs/screenshots` the home, editor, roster and check-in screen are
//! saved there.

mod common;

use chrono::{Duration, Utc};
use common::chrome::{Chrome, Lang, says};
use common::{Backend, TestApp};
use diesel::prelude::*;
use serde_json::json;
use tomoni::auth::Role;
use tomoni::db::schema::users;

async fn coordinator_day(backend: Backend, lang: Lang, width: u32, height: u32, label: &str) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    let test = format!("coordinator_day-{label}-{db_name}");
    let Some(chrome) = Chrome::start(&test, &app.url(""), width, height).await else {
        return;
    };
    let site = app.site("MSR");
    let coordinator = app.coordinator(&[site]);
    let token = app.token(&coordinator);
    app.program(&token, site, json!({"title": "Tohoku recovery"}))
        .await;
    let people: Vec<_> = (0..3)
        .map(|_| app.user(Role::Employee, Some(site)))
        .collect();
    let walk_in = app.user(Role::Employee, Some(site));
    let walk_in_number: String = users::table
        .filter(users::id.eq(walk_in.id))
        .select(users::employee_number)
        .first(&mut app.conn())
        .expect("number");

    chrome
        .goto(&format!("/lang/{}?next=/manage", says(lang, "en", "ja")))
        .await;
    chrome.sign_in(&coordinator).await;
    // Signed in, back where the coordinator was going.
    chrome.expect_path("signed in", "/manage").await;
    chrome
        .expect_text("home", "h1", says(lang, "Coordinator", "コーディネーター"))
        .await;
    chrome.axe("home").await;
    chrome.shot("manage", label).await;

    // A three-day event in Asia/Tokyo, published at once.
    chrome.click("new event", "#new-event").await;
    chrome.find("editor", "#program_id").await;
    chrome.axe("new event form").await;
    let program = chrome
        .client
        .execute(
            "return document.querySelector('#program_id option:nth-child(2)').value;",
            vec![],
        )
        .await
        .expect("programme option");
    let program = program.as_str().expect("an option").to_owned();
    chrome.set_value("programme", "#program_id", &program).await;
    chrome
        .fill("title", "#title", "Minamisanriku task force")
        .await;
    let day = (Utc::now() + Duration::days(6)).date_naive();
    chrome
        .set_value("start", "#starts_at", &format!("{day}T09:00"))
        .await;
    chrome
        .set_value(
            "end",
            "#ends_at",
            &format!("{}T17:00", day + Duration::days(2)),
        )
        .await;
    chrome.fill("zone", "#timezone", "Asia/Tokyo").await;
    chrome.fill("place", "#location", "Minamisanriku").await;
    chrome.fill("capacity", "#capacity", "12").await;
    chrome.shot("event-editor", label).await;
    chrome.click("save and publish", "#save-publish").await;
    chrome.expect_path("saved", "saved=1").await;
    chrome
        .expect_text(
            "published",
            "#event-status",
            says(lang, "Published", "公開中"),
        )
        .await;
    chrome
        .expect_text("zone named", "#zone-note", "Asia/Tokyo")
        .await;
    chrome.axe("event editor").await;
    let path = chrome.path().await;
    let id = path
        .trim_start_matches("/manage/events/")
        .split('?')
        .next()
        .unwrap_or_default()
        .to_owned();

    // Sign-ups arrive from the API.
    for p in &people {
        app.sign_up(p, &id).await;
    }

    // The trip started yesterday after all: attendance and check-in open.
    let start = (Utc::now() - Duration::days(1)).date_naive();
    chrome
        .set_value("new start", "#starts_at", &format!("{start}T09:00"))
        .await;
    chrome
        .set_value(
            "new end",
            "#ends_at",
            &format!("{}T17:00", start + Duration::days(2)),
        )
        .await;
    // The page saved before has the same address and mark: wait for the new one.
    chrome.click_to_new_page("save", "#save").await;
    chrome.find("saved again", "#saved").await;

    // The check-in screen: a check-in from the API shows up there by itself.
    chrome.click("to check-in screen", "#to-check-in").await;
    let code = chrome
        .find("code", "#code")
        .await
        .text()
        .await
        .unwrap_or_default();
    chrome.axe("check-in screen").await;
    let (status, _, body) = app
        .call(
            "POST",
            &format!("/api/v1/events/{id}/check-in"),
            Some(&app.token(&people[0])),
            Some(json!({ "code": code })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    chrome
        .expect_text(
            "arrival shown",
            "#arrivals",
            says(lang, "1 checked in", "1人がチェックイン"),
        )
        .await;
    chrome.shot("check-in-screen", label).await;

    // The roster: the three confirmed, then a walk-in.
    chrome.goto(&format!("/manage/events/{id}/roster")).await;
    chrome.find("roster", "#confirmed").await;
    chrome
        .fill("walk-in number", "#walk-in-number", &walk_in_number)
        .await;
    chrome.click("add the walk-in", "#walk-in").await;
    chrome.expect_path("walk-in saved", "saved=1").await;
    chrome
        .find("walk-in row", &format!("#row-{}", walk_in.id))
        .await;

    // One person saved in place: the row answers, the page stays.
    let second = people[1].id.to_string();
    chrome
        .click(
            "attended",
            &format!("input[name='status.{second}'][value=attended]"),
        )
        .await;
    chrome
        .click("save the row", &format!("#row-{second} button.save-row"))
        .await;
    chrome
        .expect_text(
            "row saved",
            &format!("#state-{second}"),
            says(lang, "Saved", "保存しました"),
        )
        .await;
    if chrome.path().await.contains("#row-") {
        chrome
            .fail("row saved in place", "the page reloaded".into())
            .await;
    }
    chrome.axe("roster").await;
    chrome.shot("roster", label).await;

    // Everyone else attended: the check-in's record and the third person.
    chrome.click("everyone attended", "#everyone").await;
    chrome.find("everyone saved", "#notice").await;

    // The approval queue: all four, approved together.
    chrome.goto("/manage/approvals").await;
    let queue = chrome
        .expect_text("queue", "#queue", "Minamisanriku task force")
        .await;
    let ticked = queue.matches("Minamisanriku task force").count();
    assert_eq!(ticked, 4, "{queue}");
    chrome.axe("approvals").await;
    chrome.shot("approvals", label).await;
    chrome.click("approve", "#approve").await;
    chrome.find("approved", "#notice").await;
    chrome.find("queue empty", "#empty").await;

    // The employee's own hours, and the statistics.
    chrome.click("sign out", ".sign-out button").await;
    // Signed out first (the click's navigation must end before the next one starts).
    chrome.expect_path("signed out", "/sign-in").await;
    chrome.goto("/my/hours").await;
    chrome.sign_in(&people[1]).await;
    chrome.expect_path("back on my hours", "/my/hours").await;
    chrome
        .expect_text("my hours", "#history", "Minamisanriku task force")
        .await;
    let fy = tomoni::stats::rollup::calendar(&mut app.conn())
        .expect("calendar")
        .year_of(start);
    let (status, _, report) = app
        .get_as(&token, &format!("/api/v1/stats/mdd?from={fy}&to={fy}"))
        .await;
    assert_eq!(status, 200, "{report}");
    let figures = &report["years"][0]["figures"];
    assert_eq!(figures["participants"], 4, "{report}");
    assert_eq!(figures["person_days"], 12, "{report}");
    assert_eq!(figures["volunteer_hours"], 96.0, "{report}");

    // A coordinator of another site finds nothing there.
    let stranger = app.coordinator(&[app.site("OSA")]);
    chrome.click("sign out", ".sign-out button").await;
    chrome.expect_path("signed out again", "/sign-in").await;
    chrome.sign_in(&stranger).await;
    chrome.expect_path("stranger signed in", "/events").await;
    for page in ["", "/roster", "/check-in", "/cancel"] {
        chrome.goto(&format!("/manage/events/{id}{page}")).await;
        chrome
            .expect_text(
                "another site's page",
                "main",
                says(lang, "There is nothing here.", "ページが見つかりません"),
            )
            .await;
    }
    chrome.close().await;
}

/// The coordinator's other pages, in both languages at phone width, including a form sent
/// back with its problems: accessible too.
async fn the_other_pages_pass_axe_in_both_languages(backend: Backend) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    let test = format!("coordinator_pages-{db_name}");
    let Some(chrome) = Chrome::start(&test, &app.url(""), 390, 844).await else {
        return;
    };
    let site = app.site("AXE");
    let coordinator = app.coordinator(&[site]);
    let token = app.token(&coordinator);
    let program = app.program(&token, site, json!({})).await;
    let past = Utc::now() - Duration::days(3);
    let (status, _, event) = app
        .call(
            "POST",
            "/api/v1/events",
            Some(&token),
            Some(
                json!({"program_id": program, "starts_at": past.to_rfc3339(),
                        "ends_at": (past + Duration::hours(2)).to_rfc3339()}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{event}");
    let past_id = event["id"].as_str().expect("id").to_owned();
    let person = app.user(Role::Employee, Some(site));
    let number: String = users::table
        .filter(users::id.eq(person.id))
        .select(users::employee_number)
        .first(&mut app.conn())
        .expect("number");
    let (status, _, marked) = app
        .call(
            "PUT",
            &format!("/api/v1/events/{past_id}/attendance"),
            Some(&token),
            Some(json!({"entries": [{"employee_number": number, "status": "attended"}]})),
        )
        .await;
    assert_eq!(status, 200, "{marked}");
    let record = marked["items"][0]["id"]
        .as_str()
        .expect("record")
        .to_owned();
    let upcoming = app
        .published_event(
            &token,
            &program,
            Utc::now() + Duration::days(3),
            2,
            json!({}),
        )
        .await;

    chrome.goto("/manage").await;
    chrome.sign_in(&coordinator).await;
    chrome.expect_path("signed in", "/manage").await;
    for lang in ["en", "ja"] {
        chrome.goto(&format!("/lang/{lang}?next=/manage")).await;
        for page in [
            "/manage/events".to_owned(),
            "/manage/programs".to_owned(),
            "/manage/programs/new".to_owned(),
            format!("/manage/programs/{program}"),
            format!("/manage/events/{upcoming}/cancel"),
            format!("/manage/events/new?copy={upcoming}"),
            format!("/manage/events/{past_id}"),
            format!("/manage/events/{past_id}/roster"),
            format!("/manage/attendance/{record}"),
        ] {
            chrome.goto(&page).await;
            chrome.find(&format!("{page} ({lang})"), "h1").await;
            chrome.axe(&format!("{page} ({lang})")).await;
            // Named by the page's kind, not its ids.
            let name: String = page
                .trim_start_matches("/manage/")
                .split(['/', '?'])
                .filter(|part| part.len() != 36 && !part.contains('='))
                .collect::<Vec<_>>()
                .join("-");
            chrome
                .shot(&format!("manage-{name}"), &format!("{lang}-phone"))
                .await;
        }
        // An editor sent back with problems marks the fields (end before start).
        chrome.goto(&format!("/manage/events/{upcoming}")).await;
        let start = chrome
            .client
            .execute("return document.querySelector('#starts_at').value;", vec![])
            .await
            .expect("start");
        chrome
            .set_value(
                "end before start",
                "#ends_at",
                start.as_str().unwrap_or_default(),
            )
            .await;
        chrome.click("save", "#save").await;
        chrome
            .find("problems shown", "#ends_at[aria-invalid=true]")
            .await;
        chrome.axe(&format!("editor with problems ({lang})")).await;
    }
    chrome.close().await;
}

async fn in_english_at_desktop_width(backend: Backend) {
    coordinator_day(backend, Lang::En, 1280, 900, "en-desktop").await;
}

async fn in_japanese_at_phone_width(backend: Backend) {
    coordinator_day(backend, Lang::Ja, 390, 844, "ja-phone").await;
}

both_backends!(
    in_english_at_desktop_width,
    in_japanese_at_phone_width,
    the_other_pages_pass_axe_in_both_languages
);
