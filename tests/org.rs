//! Companies, sites and partners: admins change them, everyone signed in reads them.

mod common;

use common::{Backend, TestApp, assert_problem};
use serde_json::{Value, json};
use tomoni::auth::Role;

async fn admins_build_the_registry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token(&app.user(Role::Admin, None));
    let employee = app.token(&app.user(Role::Employee, None));

    let (status, _, company) = app
        .call(
            "POST",
            "/api/v1/companies",
            Some(&admin),
            Some(json!({"code": "ACME", "name": "Acme", "country": "jp"})),
        )
        .await;
    assert_eq!(status, 201, "{company}");
    assert_eq!(company["country"], "JP", "normalised");
    let dup = app
        .call(
            "POST",
            "/api/v1/companies",
            Some(&admin),
            Some(json!({"code": "ACME", "name": "Other", "country": "JP"})),
        )
        .await;
    assert_problem(&dup, 409, "company_exists");

    let site = |code: &str, region: &str, tz: &str, opened: &str, closed: Value| {
        json!({"code": code, "name": format!("Site {code}"), "company_id": company["id"], "country": "JP",
               "region": region, "timezone": tz, "opened_on": opened, "closed_on": closed})
    };
    let (status, _, tokyo) = app
        .call(
            "POST",
            "/api/v1/sites",
            Some(&admin),
            Some(site(
                "TKY",
                "domestic",
                "Asia/Tokyo",
                "2001-04-01",
                Value::Null,
            )),
        )
        .await;
    assert_eq!(status, 201, "{tokyo}");
    let (status, _, _) = app
        .call(
            "POST",
            "/api/v1/sites",
            Some(&admin),
            Some(site(
                "LON",
                "overseas",
                "Europe/London",
                "2005-01-01",
                json!("2011-06-30"),
            )),
        )
        .await;
    assert_eq!(status, 201);

    let bad = app
        .call(
            "POST",
            "/api/v1/sites",
            Some(&admin),
            Some(site(
                "X1",
                "domestic",
                "Mars/Olympus",
                "2010-01-01",
                json!("2009-01-01"),
            )),
        )
        .await;
    let problem = assert_problem(&bad, 422, "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["timezone", "closed_on"]);
    let bad_region = app
        .call(
            "POST",
            "/api/v1/sites",
            Some(&admin),
            Some(site("X2", "moon", "Asia/Tokyo", "2010-01-01", Value::Null)),
        )
        .await;
    let problem = assert_problem(&bad_region, 422, "invalid_body");
    assert_eq!(problem["errors"][0]["field"], "region");
    let mut orphan = site("X3", "domestic", "Asia/Tokyo", "2010-01-01", Value::Null);
    orphan["company_id"] = json!(uuid::Uuid::now_v7());
    let problem = assert_problem(
        &app.call("POST", "/api/v1/sites", Some(&admin), Some(orphan))
            .await,
        422,
        "validation_failed",
    );
    assert_eq!(problem["errors"][0]["code"], "unknown_company");
    let dup = app
        .call(
            "POST",
            "/api/v1/sites",
            Some(&admin),
            Some(site(
                "TKY",
                "domestic",
                "Asia/Tokyo",
                "2001-04-01",
                Value::Null,
            )),
        )
        .await;
    assert_problem(&dup, 409, "site_exists");

    // Everyone reads; filters combine.
    let count = |v: &Value| v["items"].as_array().unwrap().len();
    assert_eq!(count(&app.get_as(&employee, "/api/v1/sites").await.2), 2);
    assert_eq!(
        count(
            &app.get_as(&employee, "/api/v1/sites?region=overseas")
                .await
                .2
        ),
        1
    );
    assert_eq!(
        count(
            &app.get_as(&employee, "/api/v1/sites?open_on=2012-01-01")
                .await
                .2
        ),
        1,
        "London closed in 2011"
    );
    assert_eq!(
        count(
            &app.get_as(&employee, "/api/v1/sites?open_on=2010-01-01")
                .await
                .2
        ),
        2
    );
    assert_problem(
        &app.get_as(&employee, "/api/v1/sites?open_on=yesterday")
            .await,
        400,
        "invalid_query",
    );

    // Closing and reopening a site.
    let path = format!("/api/v1/sites/{}", tokyo["id"].as_str().unwrap());
    let closed = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"closed_on": "2020-03-31"})),
        )
        .await;
    assert_eq!(closed.2["closed_on"], "2020-03-31");
    let reopened = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"closed_on": null})),
        )
        .await;
    assert_eq!(reopened.2["closed_on"], Value::Null);
    let wrong = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"closed_on": "1999-01-01"})),
        )
        .await;
    assert_problem(&wrong, 422, "validation_failed");

    let (status, _, partner) = app
        .call(
            "POST",
            "/api/v1/partners",
            Some(&admin),
            Some(json!({"name": "Sea Friends", "kind": "npo", "country": "jp", "website": "https://sea.example.org"})),
        )
        .await;
    assert_eq!(status, 201, "{partner}");
    let bad = app
        .call(
            "POST",
            "/api/v1/partners",
            Some(&admin),
            Some(json!({"name": "X", "kind": "npo", "website": "ftp://x"})),
        )
        .await;
    assert_problem(&bad, 422, "validation_failed");
    let got = app
        .get_as(
            &employee,
            &format!("/api/v1/partners/{}", partner["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(got.2["name"], "Sea Friends");
}

/// Every create takes an Idempotency-Key, not only sign-ups.
async fn creates_are_idempotent(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token(&app.user(Role::Admin, None));
    let post = |path: &'static str, key: &'static str, body: Value| {
        let req = app
            .client()
            .post(app.url(path))
            .insert_header(("Authorization", format!("Bearer {admin}")))
            .insert_header(("Idempotency-Key", key));
        async move {
            let mut res = req.send_json(&body).await.unwrap();
            let replayed = res.headers().get("idempotent-replayed").is_some();
            (common::read_json(&mut res).await, replayed)
        }
    };
    let body = json!({"code": "IDEM", "name": "Idem", "country": "JP"});
    let (first, replayed) = post("/api/v1/companies", "c-1", body.clone()).await;
    assert_eq!((first.0, replayed), (201, false), "{}", first.2);
    let (again, replayed) = post("/api/v1/companies", "c-1", body).await;
    assert_eq!((again.0, replayed), (201, true));
    assert_eq!(again.2["id"], first.2["id"]);
    let (other, _) = post(
        "/api/v1/companies",
        "c-1",
        json!({"code": "IDEM2", "name": "Idem", "country": "JP"}),
    )
    .await;
    assert_problem(&other, 422, "idempotency_key_reused");

    // A user with a password: the retry replays and no second account appears.
    let user = json!({"employee_number": "I-1", "email": "idem@example.com", "display_name": "I",
                      "password": "a-long-enough-password"});
    let (created, _) = post("/api/v1/users", "u-1", user.clone()).await;
    assert_eq!(created.0, 201, "{}", created.2);
    let (again, replayed) = post("/api/v1/users", "u-1", user).await;
    assert_eq!((again.0, replayed), (201, true));
    let (changed, _) = post(
        "/api/v1/users",
        "u-1",
        json!({"employee_number": "I-1", "email": "idem@example.com", "display_name": "I",
               "password": "another-long-password"}),
    )
    .await;
    assert_problem(&changed, 422, "idempotency_key_reused");
    let stored: Vec<String> = {
        use diesel::prelude::*;
        tomoni::db::schema::idempotency_keys::table
            .select(tomoni::db::schema::idempotency_keys::request_hash)
            .load(&mut app.conn())
            .unwrap()
    };
    assert!(
        stored.iter().all(|h| h.len() == 64),
        "only keyed hashes are stored"
    );
}

both_backends!(admins_build_the_registry, creates_are_idempotent);
