//! Outbox rows are written in the same transaction as the change that causes them: one per
//! message, deduplicated, none for a change that was refused.

mod common;

use chrono::{Duration, Utc};
use common::{Backend, TestApp, TestUser};
use diesel::prelude::*;
use serde_json::{Value, json};
use tomoni::auth::Role;
use tomoni::db::Id;
use tomoni::db::schema::outbox;

/// (kind, recipient, payload) of every queued message, oldest first.
fn queued(app: &TestApp) -> Vec<(String, String, Value)> {
    outbox::table
        .filter(outbox::status.eq("pending"))
        .select((outbox::kind, outbox::to_address, outbox::payload))
        .order(outbox::created_at)
        .load::<(String, String, String)>(&mut app.conn())
        .unwrap()
        .into_iter()
        .map(|(k, to, p)| (k, to, serde_json::from_str(&p).unwrap()))
        .collect()
}

fn kinds_for(app: &TestApp, user: &TestUser) -> Vec<String> {
    queued(app)
        .into_iter()
        .filter(|(_, to, _)| *to == user.email)
        .map(|(k, _, _)| k)
        .collect()
}

async fn event(app: &TestApp, token: &str, site: Id, capacity: i64) -> String {
    let code = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
    let program = app
        .program(token, site, json!({"code": code, "title": "Beach"}))
        .await;
    let start = Utc::now() + Duration::days(5);
    app.published_event(token, &program, start, 2, json!({"capacity": capacity}))
        .await
}

async fn sign_up_changes_queue_one_message_each(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("A");
    let coordinator = app.token(&app.coordinator(&[site]));
    let ev = event(&app, &coordinator, site, 1).await;
    let (a, b) = (
        app.user(Role::Employee, Some(site)),
        app.user(Role::Employee, Some(site)),
    );
    let first = app.sign_up(&a, &ev).await;
    app.sign_up(&b, &ev).await;
    assert_eq!(kinds_for(&app, &a), ["signup_confirmed"]);
    assert_eq!(kinds_for(&app, &b), ["signup_waitlisted"]);
    let waitlisted = queued(&app)
        .into_iter()
        .find(|m| m.0 == "signup_waitlisted")
        .unwrap();
    assert_eq!(waitlisted.2["position"], 1);
    assert_eq!(waitlisted.2["event_id"], ev.as_str());

    // A refused sign-up (already signed up) queues nothing.
    let got = app
        .call(
            "POST",
            &format!("/api/v1/events/{ev}/signups"),
            Some(&app.token(&a)),
            Some(json!({})),
        )
        .await;
    assert_eq!(got.0, 409);
    assert_eq!(queued(&app).len(), 2);

    // Cancelling gives the seat to B: a cancellation for A, a promotion for B.
    let got = app
        .call(
            "DELETE",
            &format!("/api/v1/signups/{}", first["id"].as_str().unwrap()),
            Some(&app.token(&a)),
            None,
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.2);
    assert_eq!(
        kinds_for(&app, &a),
        ["signup_confirmed", "signup_cancelled"]
    );
    assert_eq!(
        kinds_for(&app, &b),
        ["signup_waitlisted", "signup_promoted"]
    );

    // Cancelling the event tells everyone still signed up.
    let got = app
        .call(
            "POST",
            &format!("/api/v1/events/{ev}/cancel"),
            Some(&coordinator),
            None,
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.2);
    assert_eq!(
        kinds_for(&app, &b),
        ["signup_waitlisted", "signup_promoted", "event_cancelled"]
    );
    assert_eq!(
        kinds_for(&app, &a),
        ["signup_confirmed", "signup_cancelled"]
    );
}

async fn a_replayed_sign_up_queues_nothing_more(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("A");
    let coordinator = app.token(&app.coordinator(&[site]));
    let ev = event(&app, &coordinator, site, 10).await;
    let a = app.user(Role::Employee, Some(site));
    for _ in 0..2 {
        let mut res = app
            .client()
            .post(app.url(&format!("/api/v1/events/{ev}/signups")))
            .insert_header(("Authorization", format!("Bearer {}", app.token(&a))))
            .insert_header(("Idempotency-Key", "one-sign-up"))
            .send_json(&json!({}))
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 201);
        let _ = res.body().await;
    }
    assert_eq!(kinds_for(&app, &a), ["signup_confirmed"]);
    // Enqueueing the same message again is a no-op.
    let signup: Id = tomoni::db::schema::signups::table
        .select(tomoni::db::schema::signups::id)
        .first(&mut app.conn())
        .unwrap();
    let again = tomoni::outbox::enqueue(
        &mut app.conn(),
        tomoni::outbox::Outgoing {
            kind: "signup_confirmed",
            dedupe_key: format!("signup_confirmed:{signup}"),
            user: a.id,
            payload: json!({}),
            not_before: tomoni::db::Timestamp::now(),
        },
    )
    .unwrap();
    assert!(!again);
    assert_eq!(queued(&app).len(), 1);
}

both_backends!(
    sign_up_changes_queue_one_message_each,
    a_replayed_sign_up_queues_nothing_more,
);
