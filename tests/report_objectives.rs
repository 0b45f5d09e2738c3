//! The report's objectives table over real HTTP: medium-term objectives with the year's under
//! them, several measures graded by the lowest, qualitative grades set by a person and audited,
//! and a closed year's table frozen as published.

mod common;

use chrono::NaiveDate;
use common::{Backend, TestApp, TestUser, assert_problem, last_ended_year};
use serde_json::{Value, json};
use tomoni::auth::Role;

const REASON: (&str, &str) = ("Restatement-Reason", "the board added a target late");

/// A day in the middle of fiscal year `fy` (April years named by the year they end in).
fn in_year(fy: i32) -> NaiveDate {
    NaiveDate::from_ymd_opt(fy - 1, 6, 1).unwrap()
}

/// One CSV line per person: an approved 3-hour biodiversity record at `site` on `date`.
fn lines(app: &TestApp, site: &str, date: NaiveDate, people: &[TestUser]) -> String {
    people
        .iter()
        .map(|p| {
            let n = app.employee_number(p);
            format!("{site},P{site},Woods {site},nature,biodiversity,{date},{n},3\n")
        })
        .collect()
}

/// 25 open sites; the year before `fy`, 31 biodiversity participants at one site; in `fy`, 40
/// spread over 11 sites: an implementation rate of 44 % and biodiversity +29 %.
async fn the_report_year(app: &TestApp, hr: &TestUser, fy: i32) {
    let codes: Vec<String> = (1..=25).map(|i| format!("S{i:02}")).collect();
    for code in &codes {
        app.site(code);
    }
    let mut csv = String::from(
        "site_code,program_code,program_title,theme,categories,event_date,employee_number,hours\n",
    );
    csv.push_str(&lines(
        app,
        "S01",
        in_year(fy - 1),
        &app.employees(31, None),
    ));
    let people = app.employees(40, None);
    for (i, person) in people.iter().enumerate() {
        let at = &codes[i % 11];
        csv.push_str(&lines(app, at, in_year(fy), std::slice::from_ref(person)));
    }
    app.import_participations(&app.token(hr), csv).await;
}

async fn post(app: &TestApp, hr: &TestUser, body: Value) -> Value {
    let (status, _, made) = app
        .call(
            "POST",
            "/api/v1/report-objectives",
            Some(&app.token(hr)),
            Some(body),
        )
        .await;
    assert_eq!(status, 201, "{made}");
    made
}

async fn table(app: &TestApp, token: &str, fy: i32, figures: &str) -> Value {
    let (status, _, body) = app
        .get_as(
            token,
            &format!("/api/v1/report-objectives?fiscal_year={fy}&figures={figures}"),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn an_objective_with_two_measures_takes_the_lowest_grade(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hr = app.user(Role::Hr, None);
    let fy = last_ended_year();
    the_report_year(&app, &hr, fy).await;

    let plan = post(
        &app,
        &hr,
        json!({"level": "medium_term", "first_year": fy - 1, "last_year": fy + 1,
               "title": "Grow volunteering across the group", "assessment": "qualitative"}),
    )
    .await;
    let yearly = post(
        &app,
        &hr,
        json!({"level": "fiscal_year", "first_year": fy, "parent_id": plan["id"],
               "title": "More sites take part; biodiversity grows", "assessment": "measured",
               "measures": [{"metric": "implementation_rate", "target": 60.0},
                            {"metric": "biodiversity_participants", "yoy_percent": 10.0}]}),
    )
    .await;
    assert_eq!(yearly["grade"], "mostly_achieved", "{yearly}");

    let reader = app.user(Role::Employee, None);
    let t = table(&app, &app.token(&reader), fy, "published").await;
    assert_eq!(t["fiscal_year"], fy);
    let medium = &t["medium_term"][0];
    assert_eq!(medium["id"], plan["id"]);
    assert_eq!(medium["grade"], Value::Null, "nobody has graded it yet");
    let under = &medium["fiscal_year_objectives"];
    assert_eq!(under.as_array().map(Vec::len), Some(1), "{t}");
    let measures = &under[0]["measures"];
    assert_eq!(measures[0]["metric"], "implementation_rate");
    assert_eq!(measures[0]["actual"], 44.0, "11 of 25 sites: {t}");
    assert_eq!(measures[0]["grade"], "mostly_achieved");
    assert_eq!(measures[1]["metric"], "biodiversity_participants");
    assert_eq!(measures[1]["actual"], 40.0);
    assert_eq!(measures[1]["actual_yoy_percent"], 29.0, "31 → 40 is +29 %");
    assert_eq!(measures[1]["grade"], "achieved");
    assert_eq!(
        under[0]["grade"], "mostly_achieved",
        "the lowest of the two"
    );

    // The plan covers the years around it; the year before has no yearly objective under it.
    let before = table(&app, &app.token(&reader), fy - 1, "published").await;
    assert_eq!(before["medium_term"][0]["id"], plan["id"]);
    assert_eq!(
        before["medium_term"][0]["fiscal_year_objectives"],
        json!([])
    );
}

async fn a_person_grades_a_qualitative_objective(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hr = app.user(Role::Hr, None);
    let fy = last_ended_year() + 1;
    let goal = post(
        &app,
        &hr,
        json!({"level": "fiscal_year", "first_year": fy,
               "title": "Volunteering days in every new-hire induction", "assessment": "qualitative"}),
    )
    .await;
    let path = format!(
        "/api/v1/report-objectives/{}/assessment",
        goal["id"].as_str().unwrap()
    );
    let assessment =
        json!({"achievements": "Held at 14 of 16 inductions", "grade": "mostly_achieved"});

    let employee = app.user(Role::Employee, None);
    let refused = app
        .call(
            "PUT",
            &path,
            Some(&app.token(&employee)),
            Some(assessment.clone()),
        )
        .await;
    assert_problem(&refused, 403, "forbidden");

    let (status, _, graded) = app
        .call("PUT", &path, Some(&app.token(&hr)), Some(assessment))
        .await;
    assert_eq!(status, 200, "{graded}");
    assert_eq!(graded["grade"], "mostly_achieved");
    assert_eq!(graded["achievements"], "Held at 14 of 16 inductions");
    assert_eq!(graded["graded_by"], hr.id.to_string());
    assert!(graded["graded_at"].is_string());

    let t = table(&app, &app.token(&employee), fy, "published").await;
    assert_eq!(t["fiscal_year_objectives"][0]["grade"], "mostly_achieved");

    let admin = app.user(Role::Admin, None);
    let (status, _, audit) = app
        .get_as(
            &app.token(&admin),
            "/api/v1/audit?action=report_objective.assess",
        )
        .await;
    assert_eq!(status, 200, "{audit}");
    let entry = &audit["items"][0];
    assert_eq!(entry["actor_id"], hr.id.to_string(), "{audit}");
    assert_eq!(entry["details"]["grade"], "mostly_achieved");

    // A measured objective is graded by its figures, not by a person.
    let measured = post(
        &app,
        &hr,
        json!({"level": "fiscal_year", "first_year": fy, "title": "More participants",
               "assessment": "measured", "measures": [{"metric": "participants", "target": 100.0}]}),
    )
    .await;
    let refused = app
        .call(
            "PUT",
            &format!(
                "/api/v1/report-objectives/{}/assessment",
                measured["id"].as_str().unwrap()
            ),
            Some(&app.token(&hr)),
            Some(json!({"grade": "achieved"})),
        )
        .await;
    let problem = assert_problem(&refused, 422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "grade", "{problem}");
}

async fn bad_objectives_are_refused_with_the_field_named(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hr = app.user(Role::Hr, None);
    let token = app.token(&hr);
    let fy = last_ended_year() + 1;
    let plan = post(
        &app,
        &hr,
        json!({"level": "medium_term", "first_year": fy, "last_year": fy + 2,
               "title": "Plan", "assessment": "qualitative"}),
    )
    .await;
    let cases = [
        (
            json!({"level": "fiscal_year", "first_year": fy, "last_year": fy + 1, "title": "x",
                   "assessment": "qualitative"}),
            "last_year",
        ),
        (
            json!({"level": "fiscal_year", "first_year": fy + 3, "parent_id": plan["id"],
                   "title": "x", "assessment": "qualitative"}),
            "parent_id",
        ),
        (
            json!({"level": "fiscal_year", "first_year": fy, "title": " ", "assessment": "qualitative"}),
            "title",
        ),
        (
            json!({"level": "fiscal_year", "first_year": fy, "title": "x", "assessment": "measured"}),
            "measures",
        ),
        (
            json!({"level": "fiscal_year", "first_year": fy, "title": "x", "assessment": "measured",
                   "measures": [{"metric": "sites", "target": 3.0}, {"metric": "sites", "target": 4.0}]}),
            "measures[1].metric",
        ),
        (
            json!({"level": "medium_term", "first_year": fy, "last_year": fy + 11, "title": "x",
                   "assessment": "qualitative"}),
            "last_year",
        ),
    ];
    for (body, field) in cases {
        let got = app
            .call(
                "POST",
                "/api/v1/report-objectives",
                Some(&token),
                Some(body.clone()),
            )
            .await;
        let problem = assert_problem(&got, 422, "validation_failed");
        assert_eq!(problem["errors"][0]["field"], field, "{body} → {problem}");
    }
    // The plan cannot shrink away from an objective under it, nor be deleted while it has one.
    post(
        &app,
        &hr,
        json!({"level": "fiscal_year", "first_year": fy + 2, "parent_id": plan["id"],
               "title": "Last year's step", "assessment": "qualitative"}),
    )
    .await;
    let path = format!("/api/v1/report-objectives/{}", plan["id"].as_str().unwrap());
    let shrunk = app
        .call(
            "PUT",
            &path,
            Some(&token),
            Some(
                json!({"level": "medium_term", "first_year": fy, "last_year": fy + 1,
                        "title": "Plan", "assessment": "qualitative"}),
            ),
        )
        .await;
    assert_problem(&shrunk, 409, "objectives_under_it");
    let deleted = app.call("DELETE", &path, Some(&token), None).await;
    assert_problem(&deleted, 409, "objectives_under_it");
    let missing = app
        .call(
            "DELETE",
            &format!("/api/v1/report-objectives/{}", uuid::Uuid::new_v4()),
            Some(&token),
            None,
        )
        .await;
    assert_problem(&missing, 404, "not_found");
}

async fn a_closed_years_objectives_stay_as_published(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hr = app.user(Role::Hr, None);
    let fy = last_ended_year();
    app.site("CLS");
    app.past_records(
        &hr,
        "CLS",
        "SHORE",
        "",
        in_year(fy),
        &app.employees(3, None),
    )
    .await;
    let first = post(
        &app,
        &hr,
        json!({"level": "fiscal_year", "first_year": fy, "title": "Three participants",
               "assessment": "measured", "measures": [{"metric": "participants", "target": 3.0}]}),
    )
    .await;
    assert_eq!(first["grade"], "achieved");
    app.close_year(&hr, fy).await;

    let token = app.token(&hr);
    let late = json!({"level": "fiscal_year", "first_year": fy, "title": "Added after the close",
                      "assessment": "qualitative"});
    let refused = app
        .call(
            "POST",
            "/api/v1/report-objectives",
            Some(&token),
            Some(late.clone()),
        )
        .await;
    assert_problem(&refused, 409, "restatement_reason_required");
    let (status, _, added) = app
        .call_with(
            "POST",
            "/api/v1/report-objectives",
            Some(&token),
            Some(late),
            &[REASON],
        )
        .await;
    assert_eq!(status, 201, "{added}");

    let published = table(&app, &token, fy, "published").await;
    assert_eq!(published["published_version"], 1);
    let titles = |t: &Value| -> Vec<String> {
        t["fiscal_year_objectives"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["title"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(titles(&published), ["Three participants"]);
    let current = table(&app, &token, fy, "current").await;
    assert_eq!(current["published_version"], Value::Null);
    assert_eq!(
        titles(&current),
        ["Three participants", "Added after the close"]
    );

    // Restating publishes the table as it is now; version 1 keeps the old one.
    let (status, _, _) = app
        .call(
            "POST",
            &format!("/api/v1/stats/years/{fy}/restate"),
            Some(&token),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 200);
    let restated = table(&app, &token, fy, "published").await;
    assert_eq!(restated["published_version"], 2);
    assert_eq!(titles(&restated), titles(&current));
    let (status, _, v1) = app
        .get_as(&token, &format!("/api/v1/stats/years/{fy}/versions/1"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(titles(&v1["report_objectives"]), ["Three participants"]);
}

both_backends!(
    an_objective_with_two_measures_takes_the_lowest_grade,
    a_person_grades_a_qualitative_objective,
    bad_objectives_are_refused_with_the_field_named,
    a_closed_years_objectives_stay_as_published,
);
