//! The programme review pages over real HTTP: a coordinator finds their sites' programmes still
//! to review, fills the form (a missing score is a message with the rest kept), and the year's
//! page then lists the review and its averages; another site's programme is not there;
//! employees find no such page.

mod common;

use chrono::NaiveDate;
use common::web::Browser;
use common::{Backend, TestApp, last_ended_year};
use tomoni::auth::Role;

async fn a_coordinator_reviews_a_programme_on_its_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fy = last_ended_year();
    let day = NaiveDate::from_ymd_opt(fy - 1, 10, 1).unwrap();
    let hr = app.user(Role::Hr, None);
    let osaka = app.site("OSA");
    app.site("KOB");
    app.past_records(&hr, "OSA", "BEACH", "", day, &app.employees(2, None))
        .await;
    app.past_records(&hr, "KOB", "PARK", "", day, &app.employees(2, None))
        .await;
    let coordinator = app.coordinator(&[osaka]);
    let mut browser = Browser::default();
    browser.sign_in(&app, &coordinator).await;

    let start = browser.get(&app, "/reviews").await;
    assert_eq!(start.status, 303);
    assert_eq!(
        start.location().as_deref(),
        Some(format!("/reviews/{fy}").as_str())
    );
    let year = browser.get(&app, &format!("/reviews/{fy}")).await;
    assert_eq!(year.status, 200, "{}", year.body);
    assert!(
        year.body.contains("0 of 1 programmes reviewed"),
        "{}",
        year.body
    );
    assert!(year.body.contains("data-program=\"BEACH\""));
    assert!(!year.body.contains("PARK"), "another site's programme");
    let link_at = year.body.find(&format!("/reviews/{fy}/programs/")).unwrap();
    let link = &year.body[link_at..];
    let link = link[..link.find('"').unwrap()].to_owned();

    let form = browser.get(&app, &link).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("Social inclusion"));
    assert!(form.body.contains("Society: Public interest"));
    let csrf = form.csrf();
    let ids: Vec<String> = form
        .body
        .match_indices("name=\"score_")
        .map(|(i, _)| {
            let rest = &form.body[i + "name=\"score_".len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 8, "the eight criteria");

    // One score missing: the form again, with the message and what was given.
    let mut fields: Vec<(String, String)> = vec![
        ("csrf".into(), csrf.clone()),
        (
            "comments".into(),
            "Strong partner; fewer people than planned".into(),
        ),
    ];
    for id in &ids[1..] {
        fields.push((format!("score_{id}"), "4".into()));
    }
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let refused = browser.post(&app, &link, &pairs).await;
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert!(refused.body.contains("id=\"problem\""));
    assert!(
        refused
            .body
            .contains("Strong partner; fewer people than planned")
    );
    assert!(
        refused.body.contains("<option value=\"4\" selected>"),
        "scores kept"
    );

    fields.push((format!("score_{}", ids[0]), "2".into()));
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let saved = browser.post(&app, &link, &pairs).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let year = browser
        .get(&app, &format!("/reviews/{fy}?done=saved"))
        .await;
    assert!(
        year.body.contains("1 of 1 programmes reviewed"),
        "{}",
        year.body
    );
    assert!(year.body.contains("id=\"saved\""));
    // (2 + 7 × 4) / 8 = 3.75
    assert!(year.body.contains(">3.75<"), "{}", year.body);
    assert!(
        year.body
            .contains("Every programme of the year is reviewed.")
    );

    // The API has the same review.
    let (_, _, api) = app
        .get_as(&app.token(&hr), &format!("/api/v1/reviews/{fy}"))
        .await;
    let beach = api["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["program_code"] == "BEACH")
        .expect("the review");
    assert_eq!(beach["average"], 3.75);
    assert_eq!(
        beach["comments"],
        "Strong partner; fewer people than planned"
    );
    let park = api["not_reviewed"][0]["program_id"].as_str().unwrap();

    // Kobe's programme is not the Osaka coordinator's to review; employees have no page.
    let other = browser
        .get(&app, &format!("/reviews/{fy}/programs/{park}"))
        .await;
    assert_eq!(other.status, 404);
    let mut employee = Browser::default();
    employee
        .sign_in(&app, &app.user(Role::Employee, Some(osaka)))
        .await;
    assert_eq!(
        employee.get(&app, &format!("/reviews/{fy}")).await.status,
        404
    );

    // In Japanese, the built-in criteria in Japanese.
    let mut ja = browser.clone();
    ja.cookies.push(("tomoni_lang".into(), "ja".into()));
    let form = ja.get(&app, &link).await;
    assert!(form.body.contains("社会的包摂"), "{}", form.body);
}

both_backends!(a_coordinator_reviews_a_programme_on_its_page);
