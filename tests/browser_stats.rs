//! The statistics dashboard in a real headless Chromium on a `seed demo` database: an employee
//! opens it on a desktop in English and on a phone in Japanese; the table's cells as the
//! browser shows them are `GET /api/v1/stats/mdd`'s figures; the dashboard and a breakdown pass
//! axe-core, and so does the last closed year's report section (as published); the employee
//! finds no people, imports, exports or administration pages. HR sets the year's objectives on
//! their page, reads the data-quality checks, reviews a programme, opens the awards,
//! the report's objectives and the expenses ledger, axe-core clean in both languages. Screenshots
//! for the docs with `TOMONI_SCREENSHOTS=docs/screenshots`.

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
    // The report section of the last closed year, as published.
    chrome.goto(&format!("/stats/{}/report", fy - 1)).await;
    chrome
        .expect_text("the section", "#edition", "Published figures, version 1")
        .await;
    chrome.find("the winners", "#section-winners dt").await;
    chrome.axe("report section (en)").await;
    chrome.shot("report-section", "en-desktop").await;
    // The dashboard is everyone's; HR's and administrators' pages are not.
    for path in [
        "/hr/people",
        "/hr/imports",
        "/hr/exports",
        "/admin",
        "/quality",
    ] {
        chrome.goto(path).await;
        chrome
            .expect_text(path, "main", "There is nothing here.")
            .await;
        let menu = chrome.page_text().await;
        assert!(
            !menu.contains("People") && !menu.contains("Exports"),
            "no HR menu for an employee: {menu}"
        );
    }
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
    chrome.goto(&format!("/stats/{}/report", fy - 1)).await;
    chrome
        .expect_text("the section in Japanese", "#edition", "公表値（第1版）")
        .await;
    chrome.axe("report section (ja)").await;
    chrome.shot("report-section", "ja-phone").await;
    chrome.close().await;
}

async fn hr_sets_objectives_and_reads_the_quality_checks(backend: Backend) {
    let db_name = backend.name();
    let app = TestApp::spawn(backend).await;
    seeded(&app);
    let hr = app.user(Role::Hr, None);
    let (_, _, api) = app.get_as(&app.token(&hr), "/api/v1/stats/mdd").await;
    let fy = api["to"].as_i64().expect("to");
    let participants = api["years"]
        .as_array()
        .and_then(|y| y.last())
        .and_then(|y| y["figures"]["participants"].as_f64())
        .expect("participants");
    for lang in ["en", "ja"] {
        let test = format!("objectives-{db_name}");
        let page = format!("/stats/{fy}/objectives");
        let Some((chrome, label)) = Chrome::signed_in(&test, &app, &hr, lang, &page).await else {
            return;
        };
        chrome.find("the form", "#objectives-form").await;
        chrome.axe(&format!("objectives ({lang})")).await;
        // A target twice the year's participants: half of it reached, "some progress".
        chrome
            .set_value("kind", "#kind_participants", "absolute")
            .await;
        chrome
            .fill(
                "value",
                "#value_participants",
                &(participants * 2.0).to_string(),
            )
            .await;
        chrome.click("save", "#save-objectives").await;
        chrome.find("saved", "#saved").await;
        let grade = if lang == "en" {
            "Some progress"
        } else {
            "一部進展"
        };
        chrome
            .expect_text("graded", "#objectives [data-metric=participants]", grade)
            .await;
        chrome.axe(&format!("objectives saved ({lang})")).await;
        chrome.shot("objectives", label).await;
        chrome.goto(&format!("/quality?fiscal_year={fy}")).await;
        chrome.find("the checks", "#checks").await;
        chrome.axe(&format!("quality ({lang})")).await;
        chrome.shot("quality", label).await;
        // The last closed year's programme reviews: three are still to review.
        chrome.goto(&format!("/reviews/{}", fy - 1)).await;
        chrome.find("still to review", "#todo a").await;
        chrome.axe(&format!("reviews ({lang})")).await;
        chrome.shot("reviews", label).await;
        chrome.click_to_new_page("a review", "#todo a").await;
        chrome.find("the form", "#review-form").await;
        chrome
            .client
            .execute(
                "document.querySelectorAll('#review-form select').forEach(s => s.value = '4');",
                vec![],
            )
            .await
            .expect("scores chosen");
        chrome.axe(&format!("review form ({lang})")).await;
        chrome.shot("review-form", label).await;
        chrome.click_to_new_page("save", "#save-review").await;
        chrome.find("saved", "#saved").await;
        // The last closed year's awards as HR sees them: winners, scores, the set-up.
        chrome.goto(&format!("/awards/{}", fy - 1)).await;
        chrome.find("a winner", ".winner").await;
        chrome.find("the set-up", "#setup-form").await;
        chrome.axe(&format!("awards ({lang})")).await;
        chrome.shot("awards", label).await;
        // The report's objectives and the expenses ledger of that year.
        chrome
            .goto(&format!("/stats/{}/report-objectives", fy - 1))
            .await;
        chrome.find("the objectives", "section.objective").await;
        chrome.find("the add form", "#add-form").await;
        chrome.axe(&format!("report objectives ({lang})")).await;
        chrome.shot("report-objectives", label).await;
        chrome
            .goto(&format!("/hr/expenses?fiscal_year={}", fy - 1))
            .await;
        chrome.find("the lines", "#lines tbody tr").await;
        chrome.axe(&format!("expenses ({lang})")).await;
        chrome.shot("expenses", label).await;
        chrome.close().await;
    }
}

both_backends!(
    the_dashboard_in_a_browser_shows_the_apis_figures,
    hr_sets_objectives_and_reads_the_quality_checks,
);
