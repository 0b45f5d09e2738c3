//! Managing users: create, list (filters, keyset pages), patch rules, audit.

mod common;

use common::{Backend, TestApp, TestUser, assert_problem};
use diesel::prelude::*;
use serde_json::{Value, json};
use tomoni::auth::Role;
use tomoni::db::schema::audit_log;

async fn create_validates_and_refuses_duplicates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.token(&app.user(Role::Admin, None));
    let site = app.site("A");
    let body = json!({
        "employee_number": "E-100", "email": "Hanako.Sato@Example.com", "display_name": "Hanako Sato",
        "site_id": site.to_string(), "role": "coordinator", "locale": "ja",
        "coordinated_site_ids": [site.to_string()], "password": "long-enough-password"
    });
    let (status, _, user) = app
        .call("POST", "/api/v1/users", Some(&admin), Some(body.clone()))
        .await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["email"], "hanako.sato@example.com", "normalised");
    assert_eq!(user["coordinated_site_ids"], json!([site.to_string()]));
    assert_eq!(user["locale"], "ja");
    assert!(user.get("password").is_none() && !user.to_string().contains("argon2"));
    // The new account can sign in with its password.
    let login = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": "hanako.sato@example.com", "password": "long-enough-password"}),
        )
        .await;
    assert_eq!(login.0, 200);

    let dup = app
        .call("POST", "/api/v1/users", Some(&admin), Some(body))
        .await;
    assert_problem(&dup, 409, "user_exists");

    let bad = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"employee_number": "", "email": "not-an-email", "display_name": "X", "locale": "fr",
                        "password": "short"})),
        )
        .await;
    let problem = assert_problem(&bad, 422, "validation_failed");
    let mut fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, ["email", "employee_number", "locale", "password"]);

    let unknown_site = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(
                json!({"employee_number": "E-2", "email": "e2@example.com", "display_name": "E",
                        "site_id": uuid::Uuid::now_v7().to_string()}),
            ),
        )
        .await;
    let problem = assert_problem(&unknown_site, 422, "validation_failed");
    assert_eq!(problem["errors"][0]["field"], "site_id");
}

async fn lists_filter_and_page_with_keyset_cursors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let hr = app.token(&app.user(Role::Hr, None));
    let a = app.site("A");
    let b = app.site("B");
    for _ in 0..5 {
        app.user(Role::Employee, Some(a));
    }
    for _ in 0..3 {
        app.user(Role::Employee, Some(b));
    }
    let coord = app.coordinator(&[b]);

    // Pages of 3 over the 10 users, in order, without overlap or gaps.
    let mut seen = Vec::new();
    let mut path = "/api/v1/users?limit=3".to_owned();
    loop {
        let (status, _, page) = app.get_as(&hr, &path).await;
        assert_eq!(status, 200, "{page}");
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|u| u["id"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/users?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 10);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 10, "no duplicates");

    let count = |v: &Value| v["items"].as_array().unwrap().len();
    assert_eq!(
        count(
            &app.get_as(&hr, &format!("/api/v1/users?site_id={a}"))
                .await
                .2
        ),
        5
    );
    assert_eq!(
        count(
            &app.get_as(&hr, &format!("/api/v1/users?site_id={b}&role=employee"))
                .await
                .2
        ),
        3
    );
    assert_eq!(
        count(&app.get_as(&hr, "/api/v1/users?role=coordinator").await.2),
        1
    );
    let by_text = app
        .get_as(
            &hr,
            &format!("/api/v1/users?q={}", coord.email.to_uppercase()),
        )
        .await
        .2;
    assert_eq!(by_text["items"][0]["id"], coord.id.to_string());
    assert_eq!(
        count(&app.get_as(&hr, "/api/v1/users?q=%25").await.2),
        0,
        "wildcards are literal"
    );

    assert_problem(
        &app.get_as(&hr, "/api/v1/users?limit=500").await,
        400,
        "invalid_query",
    );
    assert_problem(
        &app.get_as(&hr, "/api/v1/users?limit=0").await,
        400,
        "invalid_query",
    );
    assert_problem(
        &app.get_as(&hr, "/api/v1/users?role=root").await,
        400,
        "invalid_query",
    );
    assert_problem(
        &app.get_as(&hr, "/api/v1/users?cursor=zzz").await,
        400,
        "invalid_query",
    );
    assert_problem(
        &app.get_as(&hr, "/api/v1/users?colour=blue").await,
        400,
        "invalid_query",
    );
}

async fn employees_cannot_change_their_own_access(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let a = app.site("A");
    let me = app.user(Role::Employee, Some(a));
    let token = app.token(&me);
    let path = format!("/api/v1/users/{}", me.id);
    let got = app
        .call(
            "PATCH",
            &path,
            Some(&token),
            Some(json!({"role": "admin", "site_id": null, "employee_number": "X"})),
        )
        .await;
    let problem = assert_problem(&got, 403, "forbidden");
    let detail = problem["detail"].as_str().unwrap();
    for field in ["role", "site_id", "employee_number"] {
        assert!(detail.contains(field), "{detail}");
    }
    let (_, _, after) = app.get_as(&token, "/api/v1/me").await;
    assert_eq!(after["role"], "employee", "nothing changed");
    assert_eq!(after["site_id"], a.to_string());

    let ok = app
        .call(
            "PATCH",
            &path,
            Some(&token),
            Some(json!({"display_name": "Me", "locale": "ja"})),
        )
        .await;
    assert_eq!(ok.0, 200, "{}", ok.2);
    assert_eq!(ok.2["display_name"], "Me");
    let unknown = app
        .call(
            "PATCH",
            &path,
            Some(&token),
            Some(json!({"is_admin": true})),
        )
        .await;
    assert_problem(&unknown, 422, "invalid_body");
}

async fn access_changes_are_audited_and_deactivation_ends_sign_ins(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin_user = app.user(Role::Admin, None);
    let admin = app.token(&admin_user);
    let a = app.site("A");
    let target = app.user(Role::Employee, Some(a));
    let tokens = app.login(&target).await;
    let path = format!("/api/v1/users/{}", target.id);

    let got = app
        .call(
            "PATCH",
            &path,
            Some(&admin),
            Some(json!({"role": "coordinator", "coordinated_site_ids": [a.to_string()]})),
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.2);
    assert_eq!(got.2["coordinated_site_ids"], json!([a.to_string()]));
    let (_, _, me) = app
        .get_as(tokens["access_token"].as_str().unwrap(), "/api/v1/me")
        .await;
    assert_eq!(
        me["role"], "coordinator",
        "the role applies at once, not at token expiry"
    );

    let got = app
        .call("PATCH", &path, Some(&admin), Some(json!({"active": false})))
        .await;
    assert_eq!(got.0, 200);
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_problem(&refresh, 401, "invalid_refresh_token");

    let entries: Vec<(String, Option<String>, String)> = audit_log::table
        .filter(audit_log::entity_id.eq(target.id.to_string()))
        .select((audit_log::action, audit_log::request_id, audit_log::details))
        .order(audit_log::occurred_at)
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let first: Value = serde_json::from_str(&entries[0].2).unwrap();
    assert_eq!(entries[0].0, "user.access_changed");
    assert!(entries[0].1.is_some(), "request id recorded");
    assert_eq!(first["before"]["role"], "employee");
    assert_eq!(first["after"]["role"], "coordinator");
    let second: Value = serde_json::from_str(&entries[1].2).unwrap();
    assert_eq!(second["after"]["active"], false);

    // Renames are not access changes.
    app.call(
        "PATCH",
        &path,
        Some(&admin),
        Some(json!({"display_name": "Renamed"})),
    )
    .await;
    let n: i64 = audit_log::table
        .filter(audit_log::entity_id.eq(target.id.to_string()))
        .count()
        .get_result(&mut app.conn())
        .unwrap();
    assert_eq!(n, 2);
}

async fn the_last_admin_cannot_be_removed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin = app.user(Role::Admin, None);
    let token = app.token(&admin);
    let path = format!("/api/v1/users/{}", admin.id);
    let got = app
        .call("PATCH", &path, Some(&token), Some(json!({"active": false})))
        .await;
    assert_problem(&got, 409, "last_admin");
    let got = app
        .call("PATCH", &path, Some(&token), Some(json!({"role": "hr"})))
        .await;
    assert_problem(&got, 409, "last_admin");
    app.user(Role::Admin, None);
    let got = app
        .call("PATCH", &path, Some(&token), Some(json!({"role": "hr"})))
        .await;
    assert_eq!(got.0, 200, "another admin exists now: {}", got.2);
}

/// Two administrators demoting each other at the same moment: one succeeds, the other is
/// refused, and one active administrator is left (the check holds under concurrency: on
/// PostgreSQL the active admins' rows are locked before they are counted). Several rounds,
/// since a race shows only sometimes.
async fn two_admins_demoting_each_other_leave_one(backend: Backend) {
    use tomoni::db::schema::users as users_t;
    let app = TestApp::spawn(backend).await;
    for round in 0..6 {
        // The survivor of the previous round steps down directly, so two admins race each time.
        diesel::update(users_t::table.filter(users_t::role.eq("admin")))
            .set(users_t::active.eq(false))
            .execute(&mut app.conn())
            .unwrap();
        let (a, b) = (app.user(Role::Admin, None), app.user(Role::Admin, None));
        let (ta, tb) = (app.token(&a), app.token(&b));
        let demote = |token: &str, target: &TestUser| {
            let path = format!("/api/v1/users/{}", target.id);
            let token = token.to_owned();
            let app = &app;
            async move {
                app.call("PATCH", &path, Some(&token), Some(json!({"role": "hr"})))
                    .await
            }
        };
        let (one, two) = futures_util::future::join(demote(&ta, &b), demote(&tb, &a)).await;
        let ok = [one.0, two.0].iter().filter(|s| **s == 200).count();
        assert_eq!(
            ok, 1,
            "round {round}: exactly one demotion succeeds: {one:?} {two:?}"
        );
        for refused in [&one, &two].into_iter().filter(|r| r.0 != 200) {
            assert!(
                refused.0 == 409 && refused.2["code"] == "last_admin" || refused.0 == 403,
                "round {round}: refused as the last admin (or as HR by then): {refused:?}"
            );
        }
        let admins: i64 = users_t::table
            .filter(users_t::role.eq("admin"))
            .filter(users_t::active.eq(true))
            .count()
            .get_result(&mut app.conn())
            .unwrap();
        assert_eq!(admins, 1, "round {round}: one active administrator is left");
    }
}

both_backends!(
    create_validates_and_refuses_duplicates,
    lists_filter_and_page_with_keyset_cursors,
    employees_cannot_change_their_own_access,
    access_changes_are_audited_and_deactivation_ends_sign_ins,
    the_last_admin_cannot_be_removed,
    two_admins_demoting_each_other_leave_one,
);
