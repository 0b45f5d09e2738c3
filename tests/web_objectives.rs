//! The objectives page over real HTTP: everyone reads a year's objectives with their grades
//! (the same as `GET /api/v1/objectives/{fy}`), HR and admins change them on the page — a
//! number that is not one, or a growth the service refuses, is named on its row and nothing is
//! saved — and the dashboard shows the last year's grades; employees cannot change them.

mod common;

use common::web::{Browser, Page};
use common::{Backend, TestApp};
use diesel::prelude::*;
use tomoni::auth::Role;
use tomoni::db::schema::objectives;

/// Fiscal 2025 (April 2024 to March 2025): two people at one site; fiscal 2026: three.
async fn history(app: &TestApp, hr: &str) -> Vec<common::TestUser> {
    let site = app.site("OSA");
    let people = app.employees(3, Some(site));
    let mut csv = String::from(
        "site_code,program_code,program_title,theme,categories,event_date,employee_number,hours\n",
    );
    for (i, p) in people.iter().enumerate() {
        let n = app.employee_number(p);
        csv.push_str(&format!("OSA,BEACH,Beach,nature,,2025-06-01,{n},2\n"));
        if i < 2 {
            csv.push_str(&format!("OSA,BEACH,Beach,nature,,2024-06-01,{n},2\n"));
        }
    }
    app.import_participations(hr, csv).await;
    people
}

fn stored(app: &TestApp) -> i64 {
    objectives::table
        .count()
        .get_result(&mut app.conn())
        .unwrap()
}

/// The grade cell of `metric`'s row in the table `id`.
fn grade(page: &Page, table: &str, metric: &str) -> String {
    let at = page
        .body
        .find(&format!("<table id=\"{table}\""))
        .unwrap_or_else(|| panic!("no table {table}: {}", page.body));
    let html = &page.body[at..];
    let row = html
        .find(&format!("data-metric=\"{metric}\""))
        .unwrap_or_else(|| panic!("no row {metric}"));
    let cell = &html[row..];
    let from = cell.find("<span class=\"badge").unwrap();
    let from = from + cell[from..].find('>').unwrap() + 1;
    cell[from..from + cell[from..].find("</span>").unwrap()].to_owned()
}

async fn hr_sets_objectives_and_everyone_reads_their_grades(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hr = app.user(Role::Hr, None);
    let people = history(&app, &app.token(&hr)).await;
    let employee = app.user(Role::Employee, None);

    // An employee reads, and may not change.
    let mut reader = Browser::default();
    reader.sign_in(&app, &employee).await;
    let page = reader.get(&app, "/stats/2026/objectives").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("id=\"no-objectives\""));
    assert!(!page.body.contains("id=\"objectives-form\""));
    let csrf = page.csrf();
    let refused = reader
        .post(
            &app,
            "/stats/2026/objectives",
            &[
                ("csrf", &csrf),
                ("kind_participants", "absolute"),
                ("value_participants", "1"),
            ],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(stored(&app), 0);

    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;
    let page = browser.get(&app, "/stats/2026/objectives").await;
    assert!(page.body.contains("id=\"objectives-form\""));
    let csrf = page.csrf();
    // Not a number; growth beyond what the service takes: each named on its row.
    let bad = browser
        .post(
            &app,
            "/stats/2026/objectives",
            &[
                ("csrf", &csrf),
                ("kind_participants", "absolute"),
                ("value_participants", "four"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"problem-value_participants\""));
    assert!(bad.body.contains("value=\"four\""), "kept as typed");
    let bad = browser
        .post(
            &app,
            "/stats/2026/objectives",
            &[
                ("csrf", &csrf),
                ("kind_participants", "absolute"),
                ("value_participants", "4"),
                ("kind_unique_participants", "yoy_percent"),
                ("value_unique_participants", "5000"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(
        bad.body
            .contains("id=\"problem-value_unique_participants\""),
        "{}",
        bad.body
    );
    assert_eq!(stored(&app), 0, "nothing saved");

    // 3 participants against 4 is 75 %: mostly achieved; one site against +10 % growth on one
    // site: no progress; 3 unique participants, +50 % against +20 %: achieved.
    let saved = browser
        .post(
            &app,
            "/stats/2026/objectives",
            &[
                ("csrf", &csrf),
                ("kind_participants", "absolute"),
                ("value_participants", "4"),
                ("kind_sites", "yoy_percent"),
                ("value_sites", "10"),
                ("kind_unique_participants", "yoy_percent"),
                ("value_unique_participants", "20"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    assert_eq!(stored(&app), 3);
    let page = reader.get(&app, "/stats/2026/objectives").await;
    assert_eq!(
        grade(&page, "objectives", "participants"),
        "Mostly achieved"
    );
    assert_eq!(grade(&page, "objectives", "sites"), "No progress");
    assert_eq!(
        grade(&page, "objectives", "unique_participants"),
        "Achieved"
    );
    // The API says the same.
    let (status, _, api) = app
        .get_as(&app.token(&employee), "/api/v1/objectives/2026")
        .await;
    assert_eq!(status, 200);
    let grades: Vec<(String, String)> = api["objectives"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["metric"].as_str().unwrap().to_owned(),
                o["grade"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        grades,
        [
            ("sites".to_owned(), "no_progress".to_owned()),
            ("participants".to_owned(), "mostly_achieved".to_owned()),
            ("unique_participants".to_owned(), "achieved".to_owned()),
        ]
    );
    // The dashboard shows the last year's grades, in Japanese too.
    let dashboard = reader.get(&app, "/stats?from=2025&to=2026").await;
    assert_eq!(dashboard.status, 200);
    assert_eq!(
        grade(&dashboard, "objectives", "participants"),
        "Mostly achieved"
    );
    let mut ja = reader.clone();
    ja.cookies.push(("tomoni_lang".into(), "ja".into()));
    let dashboard = ja.get(&app, "/stats?from=2025&to=2026").await;
    assert_eq!(grade(&dashboard, "objectives", "participants"), "ほぼ達成");
    assert_eq!(people.len(), 3);

    // Clearing every row leaves the year without objectives.
    let cleared = browser
        .post(&app, "/stats/2026/objectives", &[("csrf", &csrf)])
        .await;
    assert_eq!(cleared.status, 303);
    assert_eq!(stored(&app), 0);
}

both_backends!(hr_sets_objectives_and_everyone_reads_their_grades);
