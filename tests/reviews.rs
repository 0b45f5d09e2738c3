//! The yearly programme reviews over real HTTP: every programme that ran is to be reviewed
//! against the criteria, coordinators review their own sites', and the year's averages per
//! criterion, point of view, theme and site follow the scores.

mod common;

use chrono::NaiveDate;
use common::{Backend, TestApp, assert_problem, last_ended_year};
use serde_json::{Value, json};
use tomoni::auth::Role;

async fn programmes_are_reviewed_and_averaged(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let fy = last_ended_year();
    let day = NaiveDate::from_ymd_opt(fy - 1, 9, 1).unwrap();
    let hr = app.user(Role::Hr, None);
    let osaka = app.site("OSA");
    let kobe = app.site("KOB");
    let mut csv = String::from(
        "site_code,program_code,program_title,theme,categories,event_date,employee_number,hours\n",
    );
    for (site, code, theme) in [
        ("OSA", "BEACH", "nature"),
        ("OSA", "TUTOR", "education"),
        ("KOB", "PARK", "nature"),
    ] {
        for p in app.employees(2, None) {
            let n = app.employee_number(&p);
            csv.push_str(&format!("{site},{code},{code},{theme},,{day},{n},2\n"));
        }
    }
    app.import_participations(&app.token(&hr), csv).await;
    let coord_osa = app.coordinator(&[osaka]);
    let coord_kobe = app.coordinator(&[kobe]);
    let idle = app
        .program(
            &app.token(&coord_osa),
            osaka,
            json!({"code": "IDLE", "title": "Idle"}),
        )
        .await;

    let (status, _, criteria) = app
        .get_as(&app.token(&coord_osa), "/api/v1/reviews/criteria")
        .await;
    assert_eq!(status, 200, "{criteria}");
    let criteria = criteria.as_array().unwrap().clone();
    assert_eq!(
        criteria.len(),
        8,
        "the report's eight criteria come built in"
    );
    assert_eq!(criteria[0]["code"], "social_inclusion");
    assert_eq!(criteria[0]["point_of_view"], "society");
    assert_eq!(criteria[7]["point_of_view"], "company");
    let all = |score: i32| {
        json!({"scores": criteria.iter().map(|c| json!({"criterion_id": c["id"], "score": score}))
            .collect::<Vec<_>>(), "comments": "Good partner, fewer people than planned"})
    };

    let (status, _, year) = app
        .get_as(&app.token(&coord_osa), &format!("/api/v1/reviews/{fy}"))
        .await;
    assert_eq!(status, 200, "{year}");
    assert_eq!(
        year["programs_to_review"], 2,
        "Osaka's two that ran: {year}"
    );
    let todo: Vec<&str> = year["not_reviewed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["program_code"].as_str().unwrap())
        .collect();
    assert_eq!(todo, ["BEACH", "TUTOR"]);
    let program_id = |code: &str| -> String {
        year["not_reviewed"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["program_code"] == code)
            .map(|p| p["program_id"].as_str().unwrap().to_owned())
            .unwrap()
    };
    let (beach, tutor) = (program_id("BEACH"), program_id("TUTOR"));
    let (_, _, kobe_year) = app
        .get_as(&app.token(&coord_kobe), &format!("/api/v1/reviews/{fy}"))
        .await;
    let park = kobe_year["not_reviewed"][0]["program_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let put = |token: String, program: String, body: Value| {
        let path = format!("/api/v1/reviews/{fy}/programs/{program}");
        let app = &app;
        async move { app.call("PUT", &path, Some(&token), Some(body)).await }
    };
    // Another site's programme, one that did not run, an incomplete or out-of-range review.
    let other = put(app.token(&coord_kobe), beach.clone(), all(3)).await;
    assert_problem(&other, 403, "forbidden");
    let idle_review = put(app.token(&coord_osa), idle, all(3)).await;
    assert_problem(&idle_review, 409, "not_run_in_year");
    let partial = put(
        app.token(&coord_osa),
        beach.clone(),
        json!({"scores": [{"criterion_id": criteria[0]["id"], "score": 3}]}),
    )
    .await;
    assert_problem(&partial, 422, "validation_failed");
    let high = put(app.token(&coord_osa), beach.clone(), all(6)).await;
    assert_problem(&high, 422, "validation_failed");
    let employee = app.user(Role::Employee, Some(osaka));
    let refused = app
        .get_as(&app.token(&employee), &format!("/api/v1/reviews/{fy}"))
        .await;
    assert_problem(&refused, 403, "forbidden");

    // Beach 4 everywhere, then rewritten: society 5, company 3; tutor 2; park (by HR) 3.
    for (token, program, body) in [
        (app.token(&coord_osa), beach.clone(), all(4)),
        (app.token(&coord_osa), tutor.clone(), all(2)),
        (app.token(&hr), park.clone(), all(3)),
    ] {
        let (status, _, body) = put(token, program, body).await;
        assert_eq!(status, 204, "{body}");
    }
    let mixed = json!({"scores": criteria.iter().map(|c| json!({"criterion_id": c["id"],
        "score": if c["point_of_view"] == "society" { 5 } else { 3 }})).collect::<Vec<_>>()});
    let (status, _, body) = put(app.token(&coord_osa), beach.clone(), mixed).await;
    assert_eq!(status, 204, "{body}");

    let (_, _, year) = app
        .get_as(&app.token(&hr), &format!("/api/v1/reviews/{fy}"))
        .await;
    assert_eq!(year["programs_to_review"], 3);
    assert_eq!(year["not_reviewed"], json!([]), "{year}");
    assert_eq!(
        year["reviews"].as_array().map(Vec::len),
        Some(3),
        "one review per programme"
    );
    let averages = &year["averages"];
    // Beach 4 × 8 + Tutor 2 × 8 + Park 3 × 8 over 24 scores = 3.
    assert_eq!(averages["overall"], 3.0, "{averages}");
    // Society: beach 5, tutor 2, park 3 → 10/3; company: 3, 2, 3 → 8/3.
    assert_eq!(averages["by_point_of_view"]["society"], 3.33);
    assert_eq!(averages["by_point_of_view"]["company"], 2.67);
    let group = |list: &Value, key: &str| -> Value {
        list.as_array()
            .unwrap()
            .iter()
            .find(|g| g["key"] == key)
            .cloned()
            .unwrap_or_else(|| panic!("{key} in {list}"))
    };
    assert_eq!(group(&year["by_theme"], "nature")["reviews"], 2);
    assert_eq!(
        group(&year["by_theme"], "nature")["overall"],
        3.5,
        "(4 + 3) / 2"
    );
    assert_eq!(group(&year["by_theme"], "education")["overall"], 2.0);
    assert_eq!(
        group(&year["by_site"], "OSA")["overall"],
        3.0,
        "(4 + 2) / 2"
    );
    assert_eq!(group(&year["by_site"], "KOB")["overall"], 3.0);
    let beach_review = year["reviews"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["program_code"] == "BEACH")
        .unwrap();
    assert_eq!(beach_review["reviewer_id"], coord_osa.id.to_string());
    assert_eq!(beach_review["average"], 4.0);

    // HR retires one criterion and adds one: new reviews score the new set.
    let mut next: Vec<Value> = criteria[1..]
        .iter()
        .map(|c| {
            json!({"id": c["id"], "point_of_view": c["point_of_view"], "theme": c["theme"],
                        "name": c["name"]})
        })
        .collect();
    next[0]["name"] = json!("Output: people reached");
    next.push(json!({"point_of_view": "company", "theme": "Strategy", "name": "Employee pride"}));
    let (status, _, updated) = app
        .call(
            "PUT",
            "/api/v1/reviews/criteria",
            Some(&app.token(&hr)),
            Some(json!({"criteria": next})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated.as_array().map(Vec::len), Some(8));
    assert_eq!(updated[7]["name"], "Employee pride");
    assert_eq!(updated[7]["code"], Value::Null);
    // A renamed built-in is HR's own words now; an unchanged one keeps its code.
    assert_eq!(updated[0]["name"], "Output: people reached");
    assert_eq!(updated[0]["code"], Value::Null);
    assert_eq!(updated[1]["code"], "outcome");
    let stale = put(app.token(&coord_osa), tutor, all(4)).await;
    assert_problem(&stale, 422, "validation_failed");
    let refused = app
        .call(
            "PUT",
            "/api/v1/reviews/criteria",
            Some(&app.token(&coord_osa)),
            Some(json!({"criteria": []})),
        )
        .await;
    assert_problem(&refused, 403, "forbidden");
}

both_backends!(programmes_are_reviewed_and_averaged);
