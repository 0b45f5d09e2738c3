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

/// The value of the first `<option>` after `select id="{id}"` whose text contains `text`.
fn option_value(page: &Page, id: &str, text: &str) -> String {
    let at = page
        .body
        .find(&format!("<select id=\"{id}\""))
        .unwrap_or_else(|| panic!("no select {id}: {}", page.body));
    let html = &page.body[at..at + page.body[at..].find("</select>").unwrap()];
    html.split("<option value=\"")
        .skip(1)
        .find(|o| o.contains(text))
        .map(|o| o[..o.find('"').unwrap()].to_owned())
        .unwrap_or_else(|| panic!("no {text} in {html}"))
}

/// The report's objectives table on its page: HR adds a medium-term objective and one of the
/// year under it with two measures, grades the qualitative one; a bad value is named with the
/// form kept; employees read it and cannot change it; a closed year asks for the reason.
async fn hr_keeps_the_reports_objectives_on_their_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hr = app.user(Role::Hr, None);
    history(&app, &app.token(&hr)).await;
    let mut browser = Browser::default();
    browser.sign_in(&app, &hr).await;
    let page = "/stats/2026/report-objectives";
    let empty = browser.get(&app, page).await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert!(empty.body.contains("id=\"no-objectives\""));
    let csrf = empty.csrf();
    // FY2026 has ended: closing it later makes this a closed year's page.
    let plan = browser
        .post(
            &app,
            page,
            &[
                ("csrf", &csrf),
                ("action", "create"),
                ("level", "medium_term"),
                ("last_year", "2028"),
                ("title", "Volunteering grows with the business"),
                ("assessment", "qualitative"),
            ],
        )
        .await;
    assert_eq!(plan.status, 303, "{}", plan.body);
    let form = browser.get(&app, page).await;
    let parent = option_value(&form, "parent_id", "Volunteering grows");
    let bad = browser
        .post(
            &app,
            page,
            &[
                ("csrf", &csrf),
                ("action", "create"),
                ("level", "fiscal_year"),
                ("parent_id", &parent),
                ("title", "More people take part"),
                ("assessment", "measured"),
                ("metric_0", "participants"),
                ("kind_0", "absolute"),
                ("value_0", "ten"),
            ],
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert!(bad.body.contains("id=\"problem\""));
    assert!(
        bad.body.contains("value=\"More people take part\""),
        "the title kept"
    );
    let added = browser
        .post(
            &app,
            page,
            &[
                ("csrf", &csrf),
                ("action", "create"),
                ("level", "fiscal_year"),
                ("parent_id", &parent),
                ("title", "More people take part"),
                ("assessment", "measured"),
                ("metric_0", "participants"),
                ("kind_0", "absolute"),
                ("value_0", "4"),
                ("metric_1", "participants"),
                ("kind_1", "yoy_percent"),
                ("value_1", "100"),
            ],
        )
        .await;
    assert_eq!(
        added.status, 422,
        "two measures on one figure: {}",
        added.body
    );
    let added = browser
        .post(
            &app,
            page,
            &[
                ("csrf", &csrf),
                ("action", "create"),
                ("level", "fiscal_year"),
                ("parent_id", &parent),
                ("title", "More people take part"),
                ("assessment", "measured"),
                ("metric_0", "participants"),
                ("kind_0", "absolute"),
                ("value_0", "4"),
                ("metric_1", "unique_participants"),
                ("kind_1", "yoy_percent"),
                ("value_1", "100"),
            ],
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let shown = browser.get(&app, &format!("{page}?done=create")).await;
    assert!(shown.body.contains("The objective is added."));
    // 3 participants of 4 (75 %: mostly achieved); 2 → 3 unique is +50 % of +100 % (some
    // progress): the objective takes the lower.
    let under_at = shown.body.find("class=\"under\"").expect("under the plan");
    let under = &shown.body[under_at..];
    assert!(under.contains("More people take part"));
    assert!(under.contains("Some progress"), "{under}");

    let api = app
        .get_as(
            &app.token(&hr),
            "/api/v1/report-objectives?fiscal_year=2026",
        )
        .await
        .2;
    let plan_id = api["medium_term"][0]["id"].as_str().unwrap().to_owned();
    let graded = browser
        .post(
            &app,
            page,
            &[
                ("csrf", &csrf),
                ("action", "assess"),
                ("id", &plan_id),
                ("achievements", "Every site has a volunteering lead"),
                ("grade", "mostly_achieved"),
            ],
        )
        .await;
    assert_eq!(graded.status, 303, "{}", graded.body);
    let api = app
        .get_as(
            &app.token(&hr),
            "/api/v1/report-objectives?fiscal_year=2026",
        )
        .await
        .2;
    assert_eq!(api["medium_term"][0]["grade"], "mostly_achieved");
    assert_eq!(api["medium_term"][0]["graded_by"], hr.id.to_string());

    // An employee reads the table and changes nothing.
    let employee = app.user(Role::Employee, None);
    let mut reader = Browser::default();
    reader.sign_in(&app, &employee).await;
    let read = reader.get(&app, page).await;
    assert_eq!(read.status, 200);
    assert!(read.body.contains("Every site has a volunteering lead"));
    assert!(!read.body.contains("id=\"add-form\""));
    let forged = reader
        .post(
            &app,
            page,
            &[
                ("csrf", &read.csrf()),
                ("action", "delete"),
                ("id", &plan_id),
            ],
        )
        .await;
    assert_eq!(forged.status, 403);

    // Closed: a change asks for the reason; with it, the change is made.
    app.close_year(&hr, 2026).await;
    let closed = browser.get(&app, page).await;
    assert!(
        closed.body.contains("name=\"restatement_reason\""),
        "{}",
        closed.body
    );
    let refused = browser
        .post(
            &app,
            page,
            &[
                ("csrf", &csrf),
                ("action", "create"),
                ("title", "Added late"),
                ("assessment", "qualitative"),
            ],
        )
        .await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    let restated = browser
        .post(
            &app,
            page,
            &[
                ("csrf", &csrf),
                ("action", "create"),
                ("title", "Added late"),
                ("assessment", "qualitative"),
                ("restatement_reason", "the board added it after the close"),
            ],
        )
        .await;
    assert_eq!(restated.status, 303, "{}", restated.body);
    // Readers still see the published version; HR the table as it is now.
    let published = reader.get(&app, page).await;
    assert!(!published.body.contains("Added late"));
    assert!(published.body.contains("Published figures, version 1"));
    assert!(browser.get(&app, page).await.body.contains("Added late"));

    let mut ja = reader.clone();
    ja.cookies.push(("tomoni_lang".into(), "ja".into()));
    assert!(ja.get(&app, page).await.body.contains("報告書の目標"));
}

both_backends!(
    hr_keeps_the_reports_objectives_on_their_page,
    hr_sets_objectives_and_everyone_reads_their_grades
);
