//! Every error is problem+json with a stable code: unknown routes, wrong methods, bodies.

mod common;

use common::{Backend, TestApp, assert_problem, read_json};

async fn unknown_route_is_a_problem(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let got = app.get_json("/api/v1/nothing-here").await;
    let body = assert_problem(&got, 404, "route_not_found");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("/api/v1/nothing-here")
    );
}

async fn wrong_method_is_a_problem_with_allow(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut res = app
        .client()
        .delete(app.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("allow").unwrap(), "GET, HEAD");
    let got = read_json(&mut res).await;
    assert_problem(&got, 405, "method_not_allowed");
}

/// HEAD is answered wherever GET is, with GET's headers and no body; elsewhere 405.
async fn head_is_answered_wherever_get_is(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let token = app.token(&app.user(tomoni::auth::Role::Admin, None));
    let client = app.client();
    for (path, auth) in [
        ("/healthz", false),
        ("/readyz", false),
        ("/api/v1/events", true),
        ("/api-docs/openapi.json", false),
        ("/assets/simple.min.css", false),
    ] {
        let with_auth = |req: awc::ClientRequest| {
            if auth {
                req.insert_header(("Authorization", format!("Bearer {token}")))
            } else {
                req
            }
        };
        let mut get = with_auth(client.get(app.url(path))).send().await.unwrap();
        let body = get.body().limit(8 * 1024 * 1024).await.unwrap();
        let mut head = with_auth(client.head(app.url(path))).send().await.unwrap();
        assert_eq!(head.status().as_u16(), 200, "HEAD {path}");
        assert_eq!(
            head.headers().get("content-type"),
            get.headers().get("content-type"),
            "HEAD {path}"
        );
        if let Some(length) = head.headers().get("content-length") {
            assert_eq!(
                length.to_str().unwrap(),
                body.len().to_string(),
                "HEAD {path}"
            );
        }
        let head_body = head.body().await.unwrap();
        assert!(head_body.is_empty(), "HEAD {path} has no body");
    }
    // A page: the same redirect to sign-in as a GET.
    let page = awc::Client::builder()
        .disable_redirects()
        .finish()
        .head(app.url("/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 303);
    // Where GET is not allowed, neither is HEAD.
    let mut post_only = client
        .head(app.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(post_only.status().as_u16(), 405);
    assert_eq!(post_only.headers().get("allow").unwrap(), "POST");
    let _ = post_only.body().await;
    let listed = client
        .delete(app.url("/api/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.headers().get("allow").unwrap(), "GET, HEAD, POST");
}

/// Bad query parameters of the list, report and export endpoints added with attendance,
/// statistics, exports and mail: 400 `invalid_query`, never a 500 or a silent default.
async fn bad_query_parameters_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token(&app.user(tomoni::auth::Role::Admin, None));
    for path in [
        "/api/v1/attendance?approval=maybe",
        "/api/v1/attendance?cursor=not-a-cursor",
        "/api/v1/attendance?limit=0",
        "/api/v1/quality?fiscal_year=99999",
        "/api/v1/quality?region=moon",
        "/api/v1/me/hours?fiscal_year=1",
        "/api/v1/exports/hours?purpose=leave",
        "/api/v1/exports/hours?purpose=leave&fiscal_year=3000",
        "/api/v1/exports/participations?purpose=review&approval=maybe",
        "/api/v1/admin/outbox?status=lost",
        "/api/v1/stats/mdd/abc/breakdown?by=site",
        "/api/v1/objectives/12",
    ] {
        let got = app.get_as(&admin, path).await;
        assert!(
            got.0 == 400 || got.0 == 404,
            "{path}: expected a 4xx problem, got {} {}",
            got.0,
            got.2
        );
        assert!(
            got.1.starts_with("application/problem+json"),
            "{path}: {}",
            got.1
        );
        if got.0 == 400 {
            assert_eq!(got.2["code"], "invalid_query", "{path}: {}", got.2);
        }
    }
}

/// Times outside the years 1900-2200 are refused with a field error naming each one (they
/// were a 500 on SQLite and stored on PostgreSQL), in bodies and in list filters.
async fn times_outside_the_accepted_years_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("A");
    let coordinator = app.coordinator(&[site]);
    let token = app.token(&coordinator);
    let program = app.program(&token, site, serde_json::json!({})).await;
    for (start, end) in [
        ("+10000-01-01T10:00:00Z", "+10000-01-01T12:00:00Z"),
        ("0001-01-01T10:00:00Z", "0001-01-01T12:00:00Z"),
    ] {
        let got = app
            .call(
                "POST",
                "/api/v1/events",
                Some(&token),
                Some(
                    serde_json::json!({"program_id": program, "starts_at": start, "ends_at": end}),
                ),
            )
            .await;
        let body = assert_problem(&got, 422, "validation_failed");
        let fields: Vec<&str> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["starts_at", "ends_at"], "{start}: {body}");
        assert_eq!(body["errors"][0]["code"], "out_of_range", "{body}");
    }
    let got = app
        .get_as(&token, "/api/v1/events?from=%2B10000-01-01T00:00:00Z")
        .await;
    assert_problem(&got, 400, "invalid_query");
}

/// NUL and other control characters are refused where they come in, with the field named:
/// PostgreSQL answered a NUL in a sign-in email with a 500, SQLite stored it and wrote it into
/// calendars. Line breaks and tabs stay allowed in text.
async fn control_characters_are_refused_with_the_field_named(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("A");
    let admin = app.token(&app.user(tomoni::auth::Role::Admin, None));
    let login = app
        .post_json(
            "/api/v1/auth/login",
            serde_json::json!({"email": "a\u{0}@b.c", "password": "whatever-long"}),
        )
        .await;
    let problem = assert_problem(&login, 422, "invalid_body");
    assert_eq!(problem["errors"][0]["field"], "email");
    assert_eq!(problem["errors"][0]["code"], "control_character");
    for path in [
        "/api/v1/users?q=%00",
        "/api/v1/events?q=a%1bb",
        "/api/v1/sites?code=%7F",
    ] {
        assert_problem(&app.get_as(&admin, path).await, 400, "invalid_query");
    }
    let program = app
        .call(
            "POST",
            "/api/v1/programs",
            Some(&admin),
            Some(
                serde_json::json!({"site_id": site.to_string(), "code": "P", "theme": "nature",
                "title": "Beach\u{7} clean-up"}),
            ),
        )
        .await;
    let problem = assert_problem(&program, 422, "invalid_body");
    assert_eq!(problem["errors"][0]["field"], "title");
    let fine = app
        .call(
            "POST",
            "/api/v1/programs",
            Some(&admin),
            Some(
                serde_json::json!({"site_id": site.to_string(), "code": "P", "theme": "nature",
                "title": "Beach clean-up", "description": "Bring gloves.\n\tAnd water."}),
            ),
        )
        .await;
    assert_eq!(fine.0, 201, "line breaks and tabs are fine: {}", fine.2);
    assert_eq!(app.get_as(&admin, "/api/v1/users?q=%E6%97%A5").await.0, 200);
}

/// Problem details say what was expected in words: no Rust type names, no echo of the value.
async fn problem_details_are_plain_words(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("PLN");
    let token = app.token(&app.coordinator(&[site]));
    for (method, path, body, status) in [
        ("GET", "/api/v1/events?limit=abc123", None, 400),
        ("GET", "/api/v1/events?free_seats=maybe77", None, 400),
        ("GET", "/api/v1/events/not-a-uuid-xyz", None, 404),
        ("GET", "/api/v1/objectives/abc123", None, 404),
        (
            "POST",
            "/api/v1/events",
            Some(serde_json::json!("abc123")),
            422,
        ),
        (
            "POST",
            "/api/v1/events",
            Some(serde_json::json!({"program_id": 5})),
            422,
        ),
    ] {
        let (got, _, problem) = app.call(method, path, Some(&token), body).await;
        assert_eq!(got, status, "{method} {path}: {problem}");
        let detail = problem["detail"].as_str().unwrap_or_default().to_owned();
        for leak in [
            "abc123",
            "maybe77",
            "xyz",
            "i32",
            "i64",
            "u32",
            "Uuid",
            "UUID parsing",
            "struct",
            "CreateEvent",
            "EventQuery",
            "bool",
        ] {
            assert!(
                !detail.contains(leak),
                "{method} {path}: {detail:?} says {leak:?}"
            );
        }
        assert!(detail.contains("expected"), "{method} {path}: {detail:?}");
    }
}

/// One-line fields (names, titles) refuse line breaks, which would show as extra lines in mails
/// and calendars; descriptions keep theirs.
async fn line_breaks_are_refused_in_one_line_fields(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token(&app.user(tomoni::auth::Role::Admin, None));
    let site = app.site("LNB");
    let coordinator = app.token(&app.coordinator(&[site]));
    let program = app.program(&coordinator, site, serde_json::json!({})).await;
    let start = (chrono::Utc::now() + chrono::Duration::days(5)).to_rfc3339();
    let end =
        (chrono::Utc::now() + chrono::Duration::days(5) + chrono::Duration::hours(2)).to_rfc3339();
    let cases = [
        (
            &admin,
            "POST",
            "/api/v1/users".to_owned(),
            serde_json::json!({
            "employee_number": "LB-1", "email": "lb1@example.com",
            "display_name": "Aiko\nSato", "role": "employee"}),
            "display_name",
        ),
        (
            &admin,
            "POST",
            "/api/v1/companies".to_owned(),
            serde_json::json!({
            "code": "LBC", "name": "Line\r\nBreak Ltd", "country": "JP"}),
            "name",
        ),
        (
            &coordinator,
            "POST",
            "/api/v1/programs".to_owned(),
            serde_json::json!({
            "site_id": site.to_string(), "code": "LB", "title": "Beach\nclean-up",
            "theme": "nature"}),
            "title",
        ),
        (
            &coordinator,
            "POST",
            "/api/v1/events".to_owned(),
            serde_json::json!({
            "program_id": program, "title": "Beach\r\nclean-up", "starts_at": start,
            "ends_at": end}),
            "title",
        ),
        (
            &coordinator,
            "PATCH",
            format!("/api/v1/programs/{program}"),
            serde_json::json!({"title": "Two\nlines"}),
            "title",
        ),
    ];
    for (token, method, path, body, field) in cases {
        let got = app
            .call(method, &path, Some(token), Some(body.clone()))
            .await;
        let problem = assert_problem(&got, 422, "validation_failed");
        let named: Vec<(&str, &str)> = problem["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["field"].as_str().unwrap(), e["code"].as_str().unwrap()))
            .collect();
        assert!(
            named.contains(&(field, "line_break")),
            "{method} {path} {body}: {problem}"
        );
    }
    // A description is free text.
    let got = app
        .call(
            "POST",
            "/api/v1/events",
            Some(&coordinator),
            Some(
                serde_json::json!({"program_id": program, "title": "Beach clean-up",
                "description": "Bring gloves.\n\nMeet at the station.",
                "starts_at": start, "ends_at": end}),
            ),
        )
        .await;
    assert_eq!(got.0, 201, "{}", got.2);
}

both_backends!(
    line_breaks_are_refused_in_one_line_fields,
    problem_details_are_plain_words,
    head_is_answered_wherever_get_is,
    control_characters_are_refused_with_the_field_named,
    bad_query_parameters_are_refused,
    unknown_route_is_a_problem,
    wrong_method_is_a_problem_with_allow,
    times_outside_the_accepted_years_are_refused,
);
