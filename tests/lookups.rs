//! Fewer lookups: the category and theme lists, lookups by code and employee number, sign-ups
//! that carry their event, and attendance filtered by fiscal year.

mod common;

use chrono::{Duration, Utc};
use common::{Backend, TestApp, assert_problem};
use diesel::prelude::*;
use serde_json::json;
use tomoni::auth::Role;
use tomoni::db::schema::users;

fn number_of(app: &TestApp, id: tomoni::db::Id) -> String {
    users::table
        .filter(users::id.eq(id))
        .select(users::employee_number)
        .first(&mut app.conn())
        .unwrap()
}

async fn categories_and_themes_are_listed_and_named_in_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("A");
    let coord = app.token(&app.coordinator(&[site]));
    let (status, _, cats) = app.get_as(&coord, "/api/v1/categories").await;
    assert_eq!(status, 200, "{cats}");
    let codes: Vec<&str> = cats["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap())
        .collect();
    assert!(
        codes.contains(&"biodiversity") && codes.contains(&"disaster_relief"),
        "{cats}"
    );
    assert!(cats["items"][0]["label"].is_string());
    let (status, _, themes) = app.get_as(&coord, "/api/v1/themes").await;
    assert_eq!(status, 200);
    assert_eq!(
        themes["items"],
        json!([{"code": "nature", "label": "Nature"}, {"code": "education", "label": "Education"},
               {"code": "community", "label": "Community"}])
    );
    assert_eq!(
        app.call("GET", "/api/v1/categories", None, None).await.0,
        401
    );

    let refused = app
        .call(
            "POST",
            "/api/v1/programs",
            Some(&coord),
            Some(
                json!({"site_id": site.to_string(), "code": "X", "title": "X",
                "theme": "nature", "categories": ["biodiversty"]}),
            ),
        )
        .await;
    let problem = assert_problem(&refused, 422, "validation_failed");
    let message = problem["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("biodiversty") && message.contains("biodiversity"),
        "the valid categories are named: {message}"
    );
}

async fn sites_programmes_and_people_are_found_by_their_codes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.site("A");
    app.site("B");
    let hr = app.token(&app.user(Role::Hr, None));
    let coord = app.token(&app.coordinator(&[a]));
    let (_, _, found) = app.get_as(&hr, "/api/v1/sites?code=A").await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["id"], a.to_string());
    let (_, _, none) = app.get_as(&hr, "/api/v1/sites?code=NOPE").await;
    assert_eq!(none["items"], json!([]));

    let program = app.program(&coord, a, json!({"code": "BEACH"})).await;
    app.program(&coord, a, json!({"code": "RIVER", "title": "River"}))
        .await;
    let path = format!("/api/v1/programs?site_id={a}&code=BEACH");
    let (_, _, found) = app.get_as(&hr, &path).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["id"], program);

    let emp = app.user(Role::Employee, Some(a));
    let other = app.user(Role::Employee, Some(a));
    let number = number_of(&app, emp.id);
    let path = format!("/api/v1/users?employee_number={number}");
    let (_, _, found) = app.get_as(&hr, &path).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1, "{found}");
    assert_eq!(found["items"][0]["id"], emp.id.to_string());
    let (_, _, hidden) = app.get_as(&app.token(&other), &path).await;
    assert_eq!(
        hidden["items"],
        json!([]),
        "another employee's number finds nothing"
    );
}

async fn my_signups_carry_their_event(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.site("A");
    let coord = app.token(&app.coordinator(&[a]));
    let program = app.program(&coord, a, json!({})).await;
    let start = Utc::now() + Duration::days(5);
    let full = app
        .published_event(
            &coord,
            &program,
            start,
            3,
            json!({"title": "Tree planting", "location": "Hill 3", "capacity": 1}),
        )
        .await;
    let first = app.user(Role::Employee, Some(a));
    let second = app.user(Role::Employee, Some(a));
    app.sign_up(&first, &full).await;
    app.sign_up(&second, &full).await;
    let (status, _, mine) = app.get_as(&app.token(&second), "/api/v1/me/signups").await;
    assert_eq!(status, 200, "{mine}");
    let item = &mine["items"][0];
    assert_eq!(item["status"], "waitlisted");
    assert_eq!(item["waitlist_position"], 1);
    assert_eq!(item["event_id"], full);
    assert_eq!(item["event"]["title"], "Tree planting");
    assert_eq!(item["event"]["location"], "Hill 3");
    assert_eq!(item["event"]["status"], "published");
    assert_eq!(item["event"]["site_id"], a.to_string());
    assert!(item["event"]["site_name"].is_string(), "{item}");
    assert_eq!(item["event"]["timezone"], "Asia/Tokyo");
    assert!(
        item["event"]["starts_at"]
            .as_str()
            .unwrap()
            .ends_with("+09:00"),
        "{item}"
    );
}

async fn attendance_is_filtered_by_fiscal_year_and_site(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.site("A");
    let b = app.site("B");
    let admin = app.token(&app.user(Role::Admin, None));
    let mut events = Vec::new();
    for (site, start) in [
        (a, "2011-06-01T09:00:00+09:00"),
        (a, "2012-06-01T09:00:00+09:00"),
        (b, "2011-07-01T09:00:00+09:00"),
    ] {
        let program = app
            .program(&admin, site, json!({"code": format!("P{}", events.len())}))
            .await;
        let (status, _, ev) = app
            .call(
                "POST",
                "/api/v1/events",
                Some(&admin),
                Some(json!({"program_id": program,
                "starts_at": start, "ends_at": start.replace("T09:", "T12:")})),
            )
            .await;
        assert_eq!(status, 201, "{ev}");
        events.push(ev["id"].as_str().unwrap().to_owned());
    }
    let person = app.user(Role::Employee, Some(a));
    for ev in &events {
        let got = app
            .call(
                "PUT",
                &format!("/api/v1/events/{ev}/attendance"),
                Some(&admin),
                Some(
                    json!({"entries": [{"user_id": person.id.to_string(), "status": "attended"}]}),
                ),
            )
            .await;
        assert_eq!(got.0, 200, "{}", got.2);
    }
    let ids = |v: &serde_json::Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["event_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, _, fy2012) = app
        .get_as(&admin, "/api/v1/attendance?fiscal_year=2012")
        .await;
    assert_eq!(status, 200, "{fy2012}");
    assert_eq!(ids(&fy2012), [events[0].clone(), events[2].clone()]);
    let path = format!("/api/v1/attendance?fiscal_year=2012&site_id={a}");
    let (_, _, at_a) = app.get_as(&admin, &path).await;
    assert_eq!(ids(&at_a), [events[0].clone()]);
    assert_problem(
        &app.get_as(&admin, "/api/v1/attendance?fiscal_year=99999")
            .await,
        400,
        "invalid_query",
    );
}

both_backends!(
    categories_and_themes_are_listed_and_named_in_errors,
    sites_programmes_and_people_are_found_by_their_codes,
    my_signups_carry_their_event,
    attendance_is_filtered_by_fiscal_year_and_site,
);
