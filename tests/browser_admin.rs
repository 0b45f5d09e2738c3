//! Administrators' pages in a real headless Chromium: the registers, a site made through its
//! form (a bad time zone refused first), the outbox and the audit log; English at desktop
//! width, Japanese at phone width, axe-core clean on every page. Screenshots for the docs with
//! `TOMONI_SCREENSHOTS=docs/screenshots`.

mod common;

use common::chrome::Chrome;
use common::{Backend, TestApp};
use diesel::prelude::*;
use tomoni::auth::Role;
use tomoni::db::schema::sites;

async fn an_administrator_keeps_the_registry(backend: Backend) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    app.site("OSA");
    let admin = app.user(Role::Admin, None);
    for lang in ["en", "ja"] {
        let test = format!("admin-{db_name}");
        let Some((chrome, label)) = Chrome::signed_in(&test, &app, &admin, lang, "/admin").await
        else {
            return;
        };
        chrome.find("the index", "#admin-links").await;
        chrome.axe(&format!("admin ({lang})")).await;
        for page in [
            "/admin/companies",
            "/admin/partners",
            "/admin/outbox",
            "/admin/audit",
        ] {
            chrome.goto(page).await;
            chrome.find(page, "main h1").await;
            chrome.axe(&format!("{page} ({lang})")).await;
        }
        chrome.goto("/admin/sites/new").await;
        chrome.find("the form", "#record").await;
        chrome.axe(&format!("new site ({lang})")).await;
        let code = format!("KOB-{lang}");
        chrome.fill("code", "#code", &code).await;
        chrome.fill("name", "#name", "Kobe Works").await;
        chrome
            .set_value("company", "#company_id", &company(&app))
            .await;
        chrome.fill("zone", "#timezone", "Asia/Kobe").await;
        chrome.set_value("opened", "#opened_on", "2001-04-01").await;
        chrome.click("save", "#save-record").await;
        chrome.find("the refusal", "#problem-timezone").await;
        chrome.axe(&format!("site refused ({lang})")).await;
        chrome.shot("admin-site-refused", label).await;
        chrome.fill("zone", "#timezone", "Asia/Tokyo").await;
        chrome.click("save", "#save-record").await;
        chrome.find("saved", "#saved").await;
        let made: i64 = sites::table
            .filter(sites::code.eq(&code))
            .count()
            .get_result(&mut app.conn())
            .expect("count");
        assert_eq!(made, 1, "{lang}");
        chrome.goto("/admin/sites").await;
        chrome.expect_text("listed", "#register", &code).await;
        chrome.axe(&format!("sites ({lang})")).await;
        chrome.shot("admin-sites", label).await;
        chrome.close().await;
    }
}

/// The test company's id, as the form's select offers it.
fn company(app: &TestApp) -> String {
    let id: tomoni::db::Id = tomoni::db::schema::companies::table
        .select(tomoni::db::schema::companies::id)
        .first(&mut app.conn())
        .expect("company");
    uuid::Uuid::from(id).to_string()
}

both_backends!(an_administrator_keeps_the_registry);
