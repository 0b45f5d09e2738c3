//! Anonymising a leaver over real HTTP, on both databases: HR replaces the person's name, email
//! and employee number, their sessions and tokens end, their records stay — and every figure
//! of the statistics is exactly what it was; exports show the person as anonymised; the
//! refusals (not HR, the wrong confirmation, one's own account, twice) change nothing.

mod common;

use chrono::NaiveDate;
use common::{Backend, TestApp, assert_problem, last_ended_year};
use serde_json::{Value, json};
use tomoni::auth::Role;

/// Every figure the API gives: the report over the years, and each year's breakdowns.
async fn every_figure(app: &TestApp, token: &str, fy: i32) -> Vec<Value> {
    let mut all = Vec::new();
    let (status, _, report) = app
        .get_as(token, &format!("/api/v1/stats/mdd?from={}&to={fy}", fy - 2))
        .await;
    assert_eq!(status, 200, "{report}");
    all.push(report);
    for year in fy - 1..=fy {
        for by in ["site", "company", "region", "theme", "category", "month"] {
            let (status, _, b) = app
                .get_as(
                    token,
                    &format!("/api/v1/stats/mdd/{year}/breakdown?by={by}"),
                )
                .await;
            assert_eq!(status, 200, "{b}");
            all.push(b);
        }
    }
    all
}

async fn a_leaver_is_anonymised_and_the_figures_stay_exact(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fy = last_ended_year();
    let hr = app.user(Role::Hr, None);
    let hr_token = app.token(&hr);
    let osaka = app.site("OSA");
    app.site("KOB");
    let leaver = app.user(Role::Employee, Some(osaka));
    let stayer = app.user(Role::Employee, Some(osaka));
    let mut people = vec![leaver.clone(), stayer.clone()];
    people.extend(app.employees(3, None));
    for (site, year, program, categories) in [
        ("OSA", fy - 1, "BEACH", "biodiversity"),
        ("KOB", fy, "PARK", ""),
        ("OSA", fy, "BEACH", "biodiversity"),
    ] {
        let day = NaiveDate::from_ymd_opt(year - 1, 9, 1).unwrap();
        app.past_records(&hr, site, program, categories, day, &people)
            .await;
    }
    let number = app.employee_number(&leaver);
    let before = every_figure(&app, &hr_token, fy).await;
    let leaver_token = app.token(&leaver);
    let (status, _, _) = app.get_as(&leaver_token, "/api/v1/me/signups").await;
    assert_eq!(status, 200, "the leaver's token works before");
    app.login(&leaver).await;

    let path = format!("/api/v1/users/{}/anonymise", leaver.id);
    let employee = app.token(&stayer);
    let refused = app
        .call(
            "POST",
            &path,
            Some(&employee),
            Some(json!({"confirm": number})),
        )
        .await;
    assert_problem(&refused, 403, "forbidden");
    let wrong = app
        .call(
            "POST",
            &path,
            Some(&hr_token),
            Some(json!({"confirm": "nope"})),
        )
        .await;
    let problem = assert_problem(&wrong, 422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "confirm");
    let own = app
        .call(
            "POST",
            &format!("/api/v1/users/{}/anonymise", hr.id),
            Some(&hr_token),
            Some(json!({"confirm": app.employee_number(&hr)})),
        )
        .await;
    assert_problem(&own, 409, "own_account");

    let (status, _, done) = app
        .call(
            "POST",
            &path,
            Some(&hr_token),
            Some(json!({"confirm": number})),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_ne!(done["employee_number"], number.as_str());
    assert!(
        done["email"]
            .as_str()
            .unwrap()
            .ends_with("@anonymised.invalid"),
        "{done}"
    );
    assert!(
        done["display_name"]
            .as_str()
            .unwrap()
            .starts_with("Anonymised"),
        "{done}"
    );
    assert_eq!(done["active"], false);
    assert!(done["anonymised_at"].is_string());
    let again = app
        .call(
            "POST",
            &path,
            Some(&hr_token),
            Some(json!({"confirm": done["employee_number"]})),
        )
        .await;
    assert_problem(&again, 409, "already_anonymised");

    // Their sessions and tokens end; they cannot sign in.
    let (status, _, _) = app.get_as(&leaver_token, "/api/v1/me/signups").await;
    assert_eq!(status, 401, "the leaver's token is ended");
    let (status, _, body) = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": leaver.email, "password": leaver.password}),
        )
        .await;
    assert_eq!(
        status, 401,
        "the old email and password sign nobody in: {body}"
    );

    // Every figure is the same; the records are still there.
    let after = every_figure(&app, &hr_token, fy).await;
    assert_eq!(before.len(), after.len());
    for (b, a) in before.iter().zip(&after) {
        assert_eq!(b, a, "a figure changed");
    }
    let (status, _, export) = app
        .get_bytes(
            &hr_token,
            &format!("/api/v1/exports/participations?purpose=review&fiscal_year={fy}"),
        )
        .await;
    assert_eq!(status, 200);
    let text = String::from_utf8(export).unwrap();
    assert!(
        !text.contains(&number),
        "the old number is gone from exports"
    );
    assert!(
        text.contains(done["employee_number"].as_str().unwrap()),
        "the records show the anonymised person: {text}"
    );
    let admin = app.user(Role::Admin, None);
    let (_, _, audit) = app
        .get_as(&app.token(&admin), "/api/v1/audit?action=user.anonymised")
        .await;
    assert_eq!(
        audit["items"][0]["entity_id"],
        leaver.id.to_string(),
        "{audit}"
    );
    assert_eq!(audit["items"][0]["actor_id"], hr.id.to_string());
}

/// The person's page: HR types the employee number to confirm (a wrong one is said on the
/// page), and the page then says the person is anonymised, with nothing left to do.
async fn hr_anonymises_a_leaver_on_their_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hr = app.user(Role::Hr, None);
    let leaver = app.user(Role::Employee, None);
    let number = app.employee_number(&leaver);
    let mut browser = common::web::Browser::default();
    browser.sign_in(&app, &hr).await;
    let page = format!("/hr/people/{}", leaver.id);
    let shown = browser.get(&app, &page).await;
    assert!(
        shown.body.contains("id=\"anonymise-form\""),
        "{}",
        shown.body
    );
    let csrf = shown.csrf();
    let action = format!("{page}/anonymise");
    let wrong = browser
        .post(&app, &action, &[("csrf", &csrf), ("confirm", "E-nobody")])
        .await;
    assert_eq!(wrong.status, 422, "{}", wrong.body);
    assert!(wrong.body.contains("role=\"alert\""), "{}", wrong.body);
    let done = browser
        .post(&app, &action, &[("csrf", &csrf), ("confirm", &number)])
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    let after = browser.get(&app, &format!("{page}?done=anonymised")).await;
    assert!(
        after.body.contains("The person is anonymised."),
        "{}",
        after.body
    );
    assert!(after.body.contains("id=\"anonymised\""));
    assert!(!after.body.contains("id=\"anonymise-form\""));
    assert!(
        !after.body.contains("id=\"activate-form\""),
        "nothing to reactivate"
    );
    assert!(!after.body.contains(&number));
}

both_backends!(
    a_leaver_is_anonymised_and_the_figures_stay_exact,
    hr_anonymises_a_leaver_on_their_page,
);
