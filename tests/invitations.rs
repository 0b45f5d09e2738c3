//! Invitations and "forgot password": single-use, expiring links mailed over real SMTP to a sink
//! the test runs, whose secret exists only in the mail.

mod common;

use chrono::{Duration, Utc};
use common::smtp::{Received, SmtpSink};
use common::{Backend, TestApp, TestDb, TestUser, assert_problem};
use diesel::prelude::*;
use serde_json::{Value, json};
use tomoni::auth::Role;
use tomoni::db::Timestamp;
use tomoni::db::schema::{audit_log, outbox, password_links};
use tomoni::mail::worker::Worker;

async fn app_mailing_to(backend: &Backend, port: u16, account_burst: u32) -> TestApp {
    let db = TestDb::new(backend);
    let mut settings = common::smtp::mailing_to(db.settings(), port);
    settings.auth.login_account_burst = account_burst;
    TestApp::spawn_with(db, settings).await
}

fn worker(app: &TestApp) -> Worker {
    let state = tomoni::AppState::init(app.settings.clone()).expect("state");
    Worker::new(state.pool.clone(), &state.settings, None).expect("worker")
}

/// The message's text with quoted-printable soft breaks and `=3D` undone.
fn text_of(mail: &Received) -> String {
    mail.data.replace("=\r\n", "").replace("=3D", "=")
}

/// The secret of the set-password link in `mail`, checking the link is on the app's address.
fn link_token(app: &TestApp, mail: &Received) -> String {
    let text = text_of(mail);
    let prefix = app.url("/set-password?token=");
    let start = text
        .find(&prefix)
        .unwrap_or_else(|| panic!("no link on {prefix} in {text}"));
    text[start + prefix.len()..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
        .collect()
}

/// Every text the database holds about links, mails and audits, to search for a secret.
fn stored_text(app: &TestApp) -> String {
    let conn = &mut app.conn();
    let links: Vec<(Option<String>, String)> = password_links::table
        .select((password_links::token_hash, password_links::purpose))
        .load(conn)
        .unwrap();
    let mails: Vec<String> = outbox::table.select(outbox::payload).load(conn).unwrap();
    let audits: Vec<String> = audit_log::table
        .select(audit_log::details)
        .load(conn)
        .unwrap();
    format!("{links:?} {mails:?} {audits:?}")
}

async fn set_password(app: &TestApp, token: &str, password: &str) -> (u16, String, Value) {
    app.post_json(
        "/api/v1/auth/password",
        json!({"token": token, "password": password}),
    )
    .await
}

async fn login_status(app: &TestApp, email: &str, password: &str) -> u16 {
    app.post_json(
        "/api/v1/auth/login",
        json!({"email": email, "password": password}),
    )
    .await
    .0
}

/// HR invites an imported employee (no password): the mail's link is absolute, works once, and
/// its secret is nowhere in the database.
async fn an_invitation_link_works_once_and_cannot_be_read_from_the_tables(backend: Backend) {
    let mut sink = SmtpSink::start("127.0.0.1:0").await;
    let app = app_mailing_to(&backend, sink.addr.port(), 5).await;
    let hr = app.token(&app.user(Role::Hr, None));
    let (status, _, created) = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&hr),
            Some(
                json!({"employee_number": "E-100", "email": "Aiko.Sato@example.com",
                "display_name": "Aiko Sato"}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, _, invitation) = app
        .call(
            "POST",
            &format!("/api/v1/users/{id}/invitation"),
            Some(&hr),
            None,
        )
        .await;
    assert_eq!(status, 202, "{invitation}");
    assert_eq!(invitation["email"], "aiko.sato@example.com");
    let expires: chrono::DateTime<Utc> =
        invitation["expires_at"].as_str().unwrap().parse().unwrap();
    let week = Utc::now() + Duration::hours(168);
    assert!((expires - week).num_seconds().abs() < 60, "{expires}");

    assert_eq!(worker(&app).pass().await.unwrap().sent, 1);
    let mail = sink.next().await;
    assert_eq!(mail.to, ["aiko.sato@example.com"]);
    let token = link_token(&app, &mail);
    assert!(token.len() >= 32, "an unguessable secret: {token}");
    let stored = stored_text(&app);
    assert!(
        !stored.contains(&token),
        "the secret is not stored: {stored}"
    );

    let short = set_password(&app, &token, "short").await;
    assert_problem(&short, 422, "validation_failed");
    let (status, _, body) = set_password(&app, &token, "a long new password").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        login_status(&app, "aiko.sato@example.com", "a long new password").await,
        200
    );
    let again = set_password(&app, &token, "another long password").await;
    assert_problem(&again, 400, "invalid_link");
    assert_eq!(
        login_status(&app, "aiko.sato@example.com", "another long password").await,
        401,
        "a used link changed nothing"
    );
}

/// A link stops working when it expires or a newer one replaces it; a mail whose link was
/// replaced before it went out is withdrawn, not sent.
async fn expired_and_replaced_links_do_not_work(backend: Backend) {
    let mut sink = SmtpSink::start("127.0.0.1:0").await;
    let app = app_mailing_to(&backend, sink.addr.port(), 5).await;
    let admin = app.token(&app.user(Role::Admin, None));
    let person = app.user(Role::Employee, None);
    let invite = || async {
        let path = format!("/api/v1/users/{}/invitation", person.id);
        let got = app.call("POST", &path, Some(&admin), None).await;
        assert_eq!(got.0, 202, "{}", got.2);
    };
    invite().await;
    invite().await;
    let pass = worker(&app).pass().await.unwrap();
    assert_eq!(
        (pass.sent, pass.withdrawn),
        (1, 1),
        "only the newer link is mailed"
    );
    let second = link_token(&app, &sink.next().await);
    invite().await;
    assert_eq!(worker(&app).pass().await.unwrap().sent, 1);
    let third = link_token(&app, &sink.next().await);
    assert_problem(
        &set_password(&app, &second, "a long new password").await,
        400,
        "invalid_link",
    );
    diesel::update(password_links::table)
        .set(password_links::expires_at.eq(Timestamp::from(Utc::now() - Duration::minutes(1))))
        .execute(&mut app.conn())
        .unwrap();
    assert_problem(
        &set_password(&app, &third, "a long new password").await,
        400,
        "invalid_link",
    );
    assert_eq!(
        login_status(&app, &person.email, "a long new password").await,
        401
    );
    assert_eq!(
        login_status(&app, &person.email, &person.password).await,
        200
    );
}

/// "Forgot password" answers a known and an unknown address identically, mails only the known
/// one, ends the account's other sign-ins when the password is set, and is rate-limited.
async fn forgot_password_answers_the_same_for_known_and_unknown_addresses(backend: Backend) {
    let mut sink = SmtpSink::start("127.0.0.1:0").await;
    let app = app_mailing_to(&backend, sink.addr.port(), 3).await;
    let person: TestUser = app.user(Role::Employee, None);
    let signed_in = app.login(&person).await;
    let shared = &app;
    let ask = |email: String| async move {
        shared
            .post_json("/api/v1/auth/password-reset", json!({ "email": email }))
            .await
    };
    let known = ask(person.email.to_uppercase()).await;
    let unknown = ask("nobody.here@example.com".into()).await;
    assert_eq!(known.0, 202, "{}", known.2);
    assert_eq!(known, unknown, "the same status, type and body");

    let pass = worker(&app).pass().await.unwrap();
    assert_eq!(pass.sent, 1, "only the known address gets a mail");
    let mail = sink.next().await;
    assert_eq!(mail.to, std::slice::from_ref(&person.email));
    assert!(sink.all().len() == 1, "nothing went to the unknown address");
    let token = link_token(&app, &mail);
    let (status, _, body) = set_password(&app, &token, "my brand new password").await;
    assert_eq!(status, 204, "{body}");
    let refreshed = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": signed_in["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.0, 401, "other sign-ins ended: {}", refreshed.2);
    assert_eq!(
        login_status(&app, &person.email, &person.password).await,
        401
    );
    assert_eq!(
        login_status(&app, &person.email, "my brand new password").await,
        200
    );

    // Two more for the address fit the burst of 3; the fourth is refused, known or not.
    for _ in 0..2 {
        assert_eq!(ask(person.email.clone()).await.0, 202);
    }
    let limited = ask(person.email.clone()).await;
    assert_problem(&limited, 429, "too_many_attempts");
}

/// Deactivated accounts get no invitation and no reset link.
async fn deactivated_accounts_get_no_links(backend: Backend) {
    let sink = SmtpSink::start("127.0.0.1:0").await;
    let app = app_mailing_to(&backend, sink.addr.port(), 5).await;
    let admin = app.token(&app.user(Role::Admin, None));
    let person = app.user(Role::Employee, None);
    let path = format!("/api/v1/users/{}", person.id);
    let got = app
        .call("PATCH", &path, Some(&admin), Some(json!({"active": false})))
        .await;
    assert_eq!(got.0, 200, "{}", got.2);
    let invited = app
        .call("POST", &format!("{path}/invitation"), Some(&admin), None)
        .await;
    assert_problem(&invited, 409, "user_inactive");
    let asked = app
        .post_json(
            "/api/v1/auth/password-reset",
            json!({ "email": person.email }),
        )
        .await;
    assert_eq!(asked.0, 202);
    assert_eq!(worker(&app).pass().await.unwrap().sent, 0);
    assert!(sink.all().is_empty());
}

/// The users import can invite every new active account in its own transaction.
async fn the_users_import_invites_its_new_active_accounts(backend: Backend) {
    let mut sink = SmtpSink::start("127.0.0.1:0").await;
    let app = app_mailing_to(&backend, sink.addr.port(), 5).await;
    let hr = app.token(&app.user(Role::Hr, None));
    let existing = app.user(Role::Employee, None);
    let number: String = {
        use tomoni::db::schema::users;
        users::table
            .filter(users::id.eq(existing.id))
            .select(users::employee_number)
            .first(&mut app.conn())
            .unwrap()
    };
    let file = format!(
        "employee_number,email,display_name,site_code,role,active\n\
         N-1,new.one@example.com,New One,,employee,true\n\
         N-2,new.two@example.com,New Two,,coordinator,true\n\
         N-3,gone@example.com,Gone,,employee,false\n\
         {number},{},Renamed,,employee,true\n",
        existing.email
    );
    let mut res = app
        .client()
        .post(app.url("/api/v1/users/import?invite=true"))
        .insert_header(("Authorization", format!("Bearer {hr}")))
        .insert_header(("Content-Type", "text/csv"))
        .send_body(file)
        .await
        .unwrap();
    let (status, _, report) = common::read_json(&mut res).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        (&report["created"], &report["updated"], &report["invited"]),
        (&json!(3), &json!(1), &json!(2))
    );
    assert_eq!(worker(&app).pass().await.unwrap().sent, 2);
    let mut to: Vec<String> = sink.all().into_iter().flat_map(|m| m.to).collect();
    to.sort();
    assert_eq!(to, ["new.one@example.com", "new.two@example.com"]);
    let token = link_token(&app, &sink.next().await);
    assert_eq!(
        set_password(&app, &token, "a long new password").await.0,
        204
    );
}

both_backends!(
    the_users_import_invites_its_new_active_accounts,
    an_invitation_link_works_once_and_cannot_be_read_from_the_tables,
    expired_and_replaced_links_do_not_work,
    forgot_password_answers_the_same_for_known_and_unknown_addresses,
    deactivated_accounts_get_no_links,
);
