//! Reading the audit log: admins everything, HR the exports and imports, newest first, by
//! pages, with filters.

mod common;

use common::{Backend, TestApp, assert_problem};
use serde_json::{Value, json};
use tomoni::auth::Role;

fn actions(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_audit_log_is_read_by_admins_and_for_exports_by_hr(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("A");
    let admin = app.token(&app.user(Role::Admin, None));
    let hr_user = app.user(Role::Hr, None);
    let hr = app.token(&hr_user);
    let created = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin),
            Some(json!({"employee_number": "A-1",
            "email": "audited@example.com", "display_name": "Audited"})),
        )
        .await;
    assert_eq!(created.0, 201, "{}", created.2);
    for purpose in ["first%20look", "annual%20report"] {
        let path = format!("/api/v1/exports/participations?purpose={purpose}");
        let mut res = app
            .client()
            .get(app.url(&path))
            .insert_header(("Authorization", format!("Bearer {hr}")))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.body().await.unwrap();
    }

    let (status, _, all) = app.get_as(&admin, "/api/v1/audit").await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(
        actions(&all),
        [
            "export.participations",
            "export.participations",
            "user.created"
        ],
        "newest first"
    );
    let (_, _, hr_view) = app.get_as(&hr, "/api/v1/audit").await;
    assert_eq!(
        actions(&hr_view),
        ["export.participations", "export.participations"]
    );
    let newest = &hr_view["items"][0];
    assert_eq!(newest["details"]["purpose"], "annual report");
    assert_eq!(newest["actor_id"], hr_user.id.to_string());
    assert_eq!(newest["actor_email"], hr_user.email);
    let (_, _, hr_users) = app.get_as(&hr, "/api/v1/audit?action=user.created").await;
    assert_eq!(
        hr_users["items"],
        json!([]),
        "HR does not read account changes"
    );

    let (_, _, first) = app.get_as(&admin, "/api/v1/audit?limit=1").await;
    assert_eq!(actions(&first), ["export.participations"]);
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, _, second) = app
        .get_as(&admin, &format!("/api/v1/audit?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(actions(&second), ["export.participations", "user.created"]);
    assert!(second["next_cursor"].is_null());
    let (_, _, by_type) = app.get_as(&admin, "/api/v1/audit?entity_type=user").await;
    assert_eq!(actions(&by_type), ["user.created"]);
    let (_, _, none) = app.get_as(&admin, "/api/v1/audit?to=2000-01-01").await;
    assert_eq!(none["items"], json!([]));

    for token in [
        app.token(&app.user(Role::Employee, Some(site))),
        app.token(&app.coordinator(&[site])),
    ] {
        assert_problem(&app.get_as(&token, "/api/v1/audit").await, 403, "forbidden");
    }
    assert_problem(
        &app.get_as(&admin, "/api/v1/audit?from=yesterday").await,
        400,
        "invalid_query",
    );
}

both_backends!(the_audit_log_is_read_by_admins_and_for_exports_by_hr);
