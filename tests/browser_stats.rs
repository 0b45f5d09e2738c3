//! The statistics dashboard in a real headless Chromium on a `seed demo` database: an employee
//! opens it on a desktop in English and on a phone in Japanese; the table's cells as the
//! browser shows them are `GET /api/v1/stats/mdd`'s figures; the dashboard and a breakdown pass
//! axe-core. Screenshots for the docs with `TOMONI_SCREENSHOTS=docs/screenshots`.

mod common;

use common::chrome::Chrome;
use common::{Backend, TestApp};
use tomoni::auth::Role;

fn seeded(app: &TestApp) {
    let opts = tomoni::seed::Options {
        years: 3,
        scale: 0.01,
        seed: 5,
    };
    tomoni::seed::demo(
        &mut app.conn(),
        tomoni::time::FiscalCalendar::APRIL,
        chrono::Utc::now().date_naive(),
        &opts,
        &mut |_, _, _| {},
    )
    .expect("seed");
}

/// The cells of the annual table as the browser shows them, per figure.
async fn shown_cells(chrome: &Chrome) -> Vec<(String, Vec<String>)> {
    let got = chrome
        .client
        .execute(
            "return [...document.querySelectorAll('#report tbody tr')].map(r => \
             [r.dataset.metric, [...r.querySelectorAll('td')].map(td => td.innerText.trim())]);",
            vec![],
        )
        .await
        .expect("cells");
    serde_json::from_value(got).expect("rows of cells")
}

async fn the_dashboard_in_a_browser_shows_the_apis_figures(backend: Backend) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    seeded(&app);
    let employee = app.user(Role::Employee, None);
    let token = app.token(&employee);
    let (_, _, api) = app.get_as(&token, "/api/v1/stats/mdd").await;
    let years = api["years"].as_array().expect("years").clone();

    let test = format!("stats_desktop-{db_name}");
    let Some(chrome) = Chrome::start(&test, &app.url(""), 1280, 1000).await else {
        return;
    };
    chrome.goto("/stats").await;
    chrome.sign_in(&employee).await;
    chrome.expect_path("signed in", "/stats").await;
    chrome.goto("/lang/en?next=/stats").await;
    chrome
        .expect_text("the table", "#report caption", "Fiscal")
        .await;
    let rows = shown_cells(&chrome).await;
    assert_eq!(rows.len(), 10, "{rows:?}");
    for (metric, cells) in &rows {
        for (cell, y) in cells.iter().zip(&years) {
            let shown: f64 = cell.replace(',', "").parse().unwrap_or(f64::NAN);
            let api = y["figures"][metric.as_str()].as_f64().unwrap_or(f64::NAN);
            let scale = if metric == "volunteer_hours" || metric == "implementation_rate" {
                10.0
            } else {
                1.0
            };
            assert!(
                (shown - (api * scale).round() / scale).abs() < 1e-9,
                "{metric}: the browser shows {cell}, the API says {api}"
            );
        }
    }
    chrome.find("the chart", "#report-chart svg").await;
    chrome.axe("dashboard (en)").await;
    chrome.shot("stats", "en-desktop").await;
    let fy = api["to"].as_i64().expect("to");
    chrome
        .goto(&format!("/stats/{fy}/breakdown?by=site&sort=participants"))
        .await;
    chrome.find("breakdown", "#breakdown tbody tr").await;
    chrome.axe("breakdown (en)").await;
    chrome.shot("stats-breakdown", "en-desktop").await;
    chrome.close().await;

    let test = format!("stats_phone-{db_name}");
    let Some(chrome) = Chrome::start(&test, &app.url(""), 390, 844).await else {
        return;
    };
    chrome.goto("/stats").await;
    chrome.sign_in(&employee).await;
    chrome.expect_path("signed in", "/stats").await;
    chrome.goto("/lang/ja?next=/stats").await;
    chrome
        .expect_text("the table in Japanese", "#report caption", "年度")
        .await;
    assert_eq!(shown_cells(&chrome).await, rows, "the same figures");
    chrome.axe("dashboard (ja)").await;
    chrome.shot("stats", "ja-phone").await;
    chrome
        .goto(&format!("/stats/{fy}/breakdown?by=company"))
        .await;
    chrome.find("breakdown", "#breakdown tbody tr").await;
    chrome.axe("breakdown (ja)").await;
    chrome.shot("stats-breakdown", "ja-phone").await;
    chrome.close().await;
}

both_backends!(the_dashboard_in_a_browser_shows_the_apis_figures);
