//! Sign-in, tokens and their rejection.

mod common;

use chrono::Utc;
use common::{Backend, TestApp, assert_problem, read_json};
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::json;
use tomoni::auth::Role;
use tomoni::db::schema::users;

async fn login_issues_tokens_that_open_me(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user(Role::Employee, None);
    let tokens = app.login(&user).await;
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert_eq!(tokens["refresh_token"].as_str().unwrap().len(), 64);
    let (status, _, me) = app
        .get_as(tokens["access_token"].as_str().unwrap(), "/api/v1/me")
        .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], user.id.to_string());
    assert_eq!(me["email"], user.email);
    assert_eq!(me["role"], "employee");
    let text = me.to_string();
    assert!(
        !text.contains("argon2") && !text.contains("password"),
        "no hash in responses: {text}"
    );
}

async fn email_is_matched_case_insensitively(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user(Role::Employee, None);
    let got = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": user.email.to_uppercase(), "password": user.password}),
        )
        .await;
    assert_eq!(got.0, 200, "{}", got.2);
}

async fn wrong_password_and_unknown_email_look_the_same(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user(Role::Employee, None);
    let wrong = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": user.email, "password": "not-the-password"}),
        )
        .await;
    let unknown = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": "nobody@example.com", "password": "whatever-at-all"}),
        )
        .await;
    assert_problem(&wrong, 401, "invalid_credentials");
    assert_problem(&unknown, 401, "invalid_credentials");
    assert_eq!(wrong.2, unknown.2, "same body");
}

async fn login_rejects_bad_bodies_with_problems(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let post = |body: &'static str, ct: &'static str| {
        let req = app
            .client()
            .post(app.url("/api/v1/auth/login"))
            .insert_header(("content-type", ct));
        async move {
            let mut res = req.send_body(body).await.unwrap();
            read_json(&mut res).await
        }
    };
    assert_problem(
        &post("{\"email\": ", "application/json").await,
        400,
        "malformed_json",
    );
    let shape = assert_problem(
        &post("{\"email\": 5}", "application/json").await,
        422,
        "invalid_body",
    );
    assert!(
        shape["detail"].as_str().unwrap().contains("invalid type"),
        "{shape}"
    );
    let extra = post(
        r#"{"email":"a@b.c","password":"x","role":"admin"}"#,
        "application/json",
    )
    .await;
    assert_problem(&extra, 422, "invalid_body");
    assert_problem(
        &post("email=a", "application/x-www-form-urlencoded").await,
        415,
        "unsupported_media_type",
    );

    let huge = format!(r#"{{"email":"a@b.c","password":"{}"}}"#, "x".repeat(70_000));
    let mut res = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .insert_header(("content-type", "application/json"))
        .send_body(huge)
        .await
        .unwrap();
    let got = read_json(&mut res).await;
    let body = assert_problem(&got, 413, "payload_too_large");
    assert!(body["detail"].as_str().unwrap().contains("65536"), "{body}");
}

async fn deactivated_users_cannot_sign_in_refresh_or_use_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user(Role::Coordinator, None);
    let tokens = app.login(&user).await;
    diesel::update(users::table.filter(users::id.eq(user.id)))
        .set(users::active.eq(false))
        .execute(&mut app.conn())
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    assert_problem(
        &app.get_as(access, "/api/v1/me").await,
        401,
        "invalid_token",
    );
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_problem(&refresh, 401, "invalid_refresh_token");
    let login = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": user.email, "password": user.password}),
        )
        .await;
    // The same answer as a wrong password: a distinct one would confirm the password.
    assert_problem(&login, 401, "invalid_credentials");
    let wrong = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": user.email, "password": "not-the-password-1"}),
        )
        .await;
    assert_eq!(
        login.2, wrong.2,
        "deactivated and wrong password read the same"
    );
}

/// Token responses are never cached, and no response lets a browser sniff another type.
async fn token_responses_are_not_cached(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user(Role::Employee, None);
    let mut res = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .send_json(&json!({"email": user.email, "password": user.password}))
        .await
        .expect("login");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    assert_eq!(
        res.headers().get("x-content-type-options").unwrap(),
        "nosniff"
    );
    let tokens: serde_json::Value = res.json().await.expect("tokens");
    let res = app
        .client()
        .post(app.url("/api/v1/auth/refresh"))
        .send_json(&json!({"refresh_token": tokens["refresh_token"]}))
        .await
        .expect("refresh");
    assert_eq!(res.status().as_u16(), 200);
    assert_eq!(res.headers().get("cache-control").unwrap(), "no-store");
    for path in ["/healthz", "/no/such/route"] {
        let res = app.client().get(app.url(path)).send().await.expect(path);
        assert_eq!(
            res.headers().get("x-content-type-options").unwrap(),
            "nosniff",
            "{path}"
        );
    }
}

async fn refresh_rotates_and_reuse_revokes_the_family(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user(Role::Hr, None);
    let first = app.login(&user).await;
    let r1 = first["refresh_token"].clone();
    let second = app
        .post_json("/api/v1/auth/refresh", json!({"refresh_token": r1}))
        .await;
    assert_eq!(second.0, 200, "{}", second.2);
    let r2 = second.2["refresh_token"].clone();
    assert_ne!(r1, r2, "rotated");
    let (status, _, _) = app
        .get_as(second.2["access_token"].as_str().unwrap(), "/api/v1/me")
        .await;
    assert_eq!(status, 200);

    let reused = app
        .post_json("/api/v1/auth/refresh", json!({"refresh_token": r1}))
        .await;
    assert_problem(&reused, 401, "refresh_token_reused");
    let after = app
        .post_json("/api/v1/auth/refresh", json!({"refresh_token": r2}))
        .await;
    assert_problem(&after, 401, "invalid_refresh_token");

    // Another sign-in of the same user is a different family and keeps working.
    let other = app.login(&user).await;
    let ok = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": other["refresh_token"]}),
        )
        .await;
    assert_eq!(ok.0, 200);
}

async fn logout_revokes_the_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user(Role::Employee, None);
    let tokens = app.login(&user).await;
    let mut res = app
        .client()
        .post(app.url("/api/v1/auth/logout"))
        .send_json(&json!({"refresh_token": tokens["refresh_token"]}))
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(res.body().await.unwrap().is_empty());
    let refresh = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_problem(&refresh, 401, "invalid_refresh_token");
    let unknown = app
        .post_json("/api/v1/auth/logout", json!({"refresh_token": "nope"}))
        .await;
    assert_eq!(unknown.0, 204, "logging out twice is fine");
}

/// An access token ends with its sign-in, at once: after logout, and for every token of a
/// sign-in whose refresh token was presented twice; another sign-in of the same person goes on.
async fn access_tokens_end_with_their_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user(Role::Employee, None);
    let access = |t: &serde_json::Value| t["access_token"].as_str().unwrap().to_owned();

    let kept = app.login(&user).await;
    let first = app.login(&user).await;
    assert_eq!(app.get_as(&access(&first), "/api/v1/me").await.0, 200);
    let out = app
        .post_json(
            "/api/v1/auth/logout",
            json!({"refresh_token": first["refresh_token"]}),
        )
        .await;
    assert_eq!(out.0, 204);
    let after = app.get_as(&access(&first), "/api/v1/me").await;
    let problem = assert_problem(&after, 401, "invalid_token");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("sign-in has ended"),
        "{problem}"
    );

    let second = app.login(&user).await;
    let rotated = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": second["refresh_token"]}),
        )
        .await;
    assert_eq!(rotated.0, 200, "{}", rotated.2);
    assert_eq!(app.get_as(&access(&rotated.2), "/api/v1/me").await.0, 200);
    let reused = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": second["refresh_token"]}),
        )
        .await;
    assert_problem(&reused, 401, "refresh_token_reused");
    for token in [access(&second), access(&rotated.2)] {
        assert_problem(
            &app.get_as(&token, "/api/v1/me").await,
            401,
            "invalid_token",
        );
    }
    assert_eq!(
        app.get_as(&access(&kept), "/api/v1/me").await.0,
        200,
        "the other sign-in is untouched"
    );
}

/// The busiest requests look the account up in the same turn at the pool as their own work
/// (`auth::caller::Bearer`): they end with the sign-in and with deactivation exactly as the
/// others do, and a refused sign-up writes nothing.
async fn the_one_turn_requests_end_with_the_sign_in_too(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let site = app.site("ONE");
    let coordinator = app.coordinator(&[site]);
    let program = app.program(&app.token(&coordinator), site, json!({})).await;
    let start = Utc::now() + chrono::Duration::days(3);
    let mut events = Vec::new();
    for day in 0..3 {
        let at = start + chrono::Duration::days(day);
        events.push(
            app.published_event(&app.token(&coordinator), &program, at, 2, json!({}))
                .await,
        );
    }
    let fy = common::last_ended_year();
    let reads = [
        "/api/v1/events".to_owned(),
        format!("/api/v1/stats/mdd?from={fy}&to={fy}"),
        format!("/api/v1/stats/mdd/{fy}/breakdown?by=site"),
    ];
    let sign_up = |token: &str, event: &str| {
        let (app, token, path) = (
            &app,
            token.to_owned(),
            format!("/api/v1/events/{event}/signups"),
        );
        async move { app.call("POST", &path, Some(&token), Some(json!({}))).await }
    };

    let employee = app.user(Role::Employee, Some(site));
    let signed_in = app.login(&employee).await;
    let access = signed_in["access_token"].as_str().unwrap().to_owned();
    for path in &reads {
        let (status, _, body) = app.get_as(&access, path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let (status, _, body) = sign_up(&access, &events[0]).await;
    assert_eq!(status, 201, "{body}");

    let out = app
        .post_json(
            "/api/v1/auth/logout",
            json!({"refresh_token": signed_in["refresh_token"]}),
        )
        .await;
    assert_eq!(out.0, 204);
    for path in &reads {
        let problem = assert_problem(&app.get_as(&access, path).await, 401, "invalid_token");
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("sign-in has ended"),
            "{path}: {problem}"
        );
    }
    assert_problem(&sign_up(&access, &events[1]).await, 401, "invalid_token");

    // Deactivated with a live sign-in: the same 401 everywhere.
    let other = app.user(Role::Employee, Some(site));
    let live = app.login(&other).await;
    let live = live["access_token"].as_str().unwrap().to_owned();
    diesel::update(users::table.filter(users::id.eq(other.id)))
        .set(users::active.eq(false))
        .execute(&mut app.conn())
        .unwrap();
    for path in &reads {
        assert_problem(&app.get_as(&live, path).await, 401, "invalid_token");
    }
    assert_problem(&sign_up(&live, &events[2]).await, 401, "invalid_token");

    use tomoni::db::schema::signups;
    let stored: Vec<(tomoni::db::Id, tomoni::db::Id)> = signups::table
        .select((signups::user_id, signups::event_id))
        .load(&mut app.conn())
        .unwrap();
    assert_eq!(
        stored.len(),
        1,
        "only the sign-up made while signed in is stored: {stored:?}"
    );
    assert_eq!(stored[0].0, employee.id);
}

/// Correctly signed tokens whose times do not add up are refused: issued in the future, not
/// valid yet, living longer than tomoni's tokens do, or without a sign-in.
async fn tokens_with_odd_times_or_no_sign_in_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user(Role::Employee, None);
    let good = app.token(&user);
    assert_eq!(app.get_as(&good, "/api/v1/me").await.0, 200);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload: serde_json::Value =
        serde_json::from_slice(&b64.decode(good.split('.').nth(1).unwrap()).unwrap()).unwrap();
    let key = EncodingKey::from_secret(app.settings.jwt.secret.expose().as_bytes());
    let resign = |change: &dyn Fn(&mut serde_json::Value)| {
        let mut claims = payload.clone();
        change(&mut claims);
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
    };
    // The unchanged claims, signed again, still work: the refusals below are the changes'.
    assert_eq!(app.get_as(&resign(&|_| {}), "/api/v1/me").await.0, 200);
    let now = Utc::now().timestamp();
    let ttl = app.settings.jwt.access_ttl_secs as i64;
    type Change = Box<dyn Fn(&mut serde_json::Value)>;
    let cases: [(&str, Change); 5] = [
        (
            "issued in the future",
            Box::new(move |c| {
                c["iat"] = json!(now + 3600);
                c["nbf"] = json!(now);
                c["exp"] = json!(now + 3600 + ttl);
            }),
        ),
        (
            "not valid yet",
            Box::new(move |c| {
                c["nbf"] = json!(now + 600);
            }),
        ),
        (
            "a year long",
            Box::new(move |c| {
                c["exp"] = json!(now + 365 * 86_400);
            }),
        ),
        (
            "no sign-in",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("sid");
            }),
        ),
        (
            "an unknown sign-in",
            Box::new(|c| {
                c["sid"] = json!(tomoni::db::Id::new().to_string());
            }),
        ),
    ];
    for (what, change) in cases {
        let got = app.get_as(&resign(&*change), "/api/v1/me").await;
        assert_eq!(got.0, 401, "{what}: {}", got.2);
        assert_eq!(got.2["code"], "invalid_token", "{what}");
    }
}

/// Claims as an attacker would craft them.
fn claims(app: &TestApp, user: &common::TestUser, aud: &str, exp_offset: i64) -> serde_json::Value {
    let now = Utc::now().timestamp();
    json!({
        "iss": app.settings.jwt.issuer, "aud": aud, "sub": user.id.to_string(), "role": "admin",
        "iat": now, "exp": now + exp_offset, "jti": "x",
    })
}

async fn forged_and_stale_tokens_are_rejected(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let user = app.user(Role::Employee, None);
    let secret = app.settings.jwt.secret.expose().as_bytes().to_vec();
    let aud = app.settings.jwt.audience.clone();
    let good = app.token(&user);
    assert_eq!(app.get_as(&good, "/api/v1/me").await.0, 200);

    // Signature changed in its last characters.
    let mut tampered = good.clone();
    let last = tampered.pop().unwrap();
    tampered.push(if last == 'A' { 'B' } else { 'A' });
    // Payload changed (role escalated), signature kept.
    let parts: Vec<&str> = good.split('.').collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut payload: serde_json::Value =
        serde_json::from_slice(&b64.decode(parts[1]).unwrap()).unwrap();
    payload["role"] = json!("admin");
    let escalated = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(payload.to_string()),
        parts[2]
    );
    // Unsigned.
    let none = format!(
        "{}.{}.",
        b64.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let sign = |alg, key: &EncodingKey, claims: &serde_json::Value| {
        jsonwebtoken::encode(&Header::new(alg), claims, key).unwrap()
    };
    let hs512 = sign(
        Algorithm::HS512,
        &EncodingKey::from_secret(&secret),
        &claims(&app, &user, &aud, 600),
    );
    let other_key = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(b"another-secret-another-secret-0000"),
        &claims(&app, &user, &aud, 600),
    );
    let expired = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(&secret),
        &claims(&app, &user, &aud, -120),
    );
    let wrong_aud = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(&secret),
        &claims(&app, &user, "other-app", 600),
    );

    for (what, token) in [
        ("tampered signature", tampered),
        ("escalated payload", escalated),
        ("alg none", none),
        ("HS512", hs512),
        ("another key", other_key),
        ("expired", expired),
        ("wrong audience", wrong_aud),
        ("garbage", "not.a.jwt".to_owned()),
    ] {
        let got = app.get_as(&token, "/api/v1/me").await;
        assert_problem(&got, 401, "invalid_token");
        assert!(!got.2["detail"].as_str().unwrap().is_empty(), "{what}");
    }
    let mut res = app
        .client()
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("www-authenticate").unwrap(), "Bearer");
    assert_problem(&read_json(&mut res).await, 401, "unauthorized");
}

both_backends!(
    login_issues_tokens_that_open_me,
    email_is_matched_case_insensitively,
    wrong_password_and_unknown_email_look_the_same,
    login_rejects_bad_bodies_with_problems,
    deactivated_users_cannot_sign_in_refresh_or_use_tokens,
    refresh_rotates_and_reuse_revokes_the_family,
    logout_revokes_the_sign_in,
    forged_and_stale_tokens_are_rejected,
    token_responses_are_not_cached,
    access_tokens_end_with_their_sign_in,
    the_one_turn_requests_end_with_the_sign_in_too,
    tokens_with_odd_times_or_no_sign_in_are_refused,
);

/// The per-account and per-address limits answer 429 with Retry-After, and sign-in works again
/// once that time has passed (the wait is the behaviour under test, not synchronisation).
async fn login_rate_limit_trips_and_recovers(backend: Backend) {
    let db = common::TestDb::new(&backend);
    let mut settings = db.settings();
    settings.auth.login_account_burst = 2;
    settings.auth.login_account_period_secs = 1;
    // No address refill during the test: its budget is exactly 5 attempts.
    settings.auth.login_address_burst = 5;
    settings.auth.login_address_period_secs = 3600;
    let app = TestApp::spawn_with(db, settings).await;
    let user = app.user(Role::Employee, None);
    let wrong = json!({"email": user.email, "password": "wrong-password"});
    let right = json!({"email": user.email, "password": user.password});

    assert_problem(
        &app.post_json("/api/v1/auth/login", wrong.clone()).await,
        401,
        "invalid_credentials",
    );
    assert_problem(
        &app.post_json("/api/v1/auth/login", wrong.clone()).await,
        401,
        "invalid_credentials",
    );
    let mut res = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .send_json(&right)
        .await
        .unwrap();
    let retry_after: u64 = res
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_problem(&read_json(&mut res).await, 429, "too_many_attempts");
    assert!((1..=2).contains(&retry_after), "{retry_after}");

    std::thread::sleep(std::time::Duration::from_secs(retry_after));
    let got = app.post_json("/api/v1/auth/login", right).await;
    assert_eq!(got.0, 200, "recovered: {}", got.2);

    // Per address: one client trying many accounts. Two failures so far from this address:
    // the refused attempt took nothing and the successful sign-in gave its attempt back.
    for n in 0..4 {
        let other =
            json!({"email": format!("nobody{n}@example.com"), "password": "whatever-whatever"});
        let got = app.post_json("/api/v1/auth/login", other).await;
        if n < 3 {
            assert_problem(&got, 401, "invalid_credentials");
        } else {
            assert_problem(&got, 429, "too_many_attempts");
        }
    }
}

/// Signs in from `address` (the test server trusts X-Forwarded-For) and returns the status.
async fn login_from(app: &TestApp, address: &str, email: &str, password: &str) -> u16 {
    let mut res = app
        .client()
        .post(app.url("/api/v1/auth/login"))
        .insert_header(("X-Forwarded-For", address))
        .send_json(&json!({"email": email, "password": password}))
        .await
        .unwrap();
    let status = res.status().as_u16();
    let _ = res.body().await;
    status
}

/// Only failures count: a person signing in many times is never refused, and their wrong
/// passwords count as before.
async fn successful_sign_ins_do_not_count(backend: Backend) {
    let db = common::TestDb::new(&backend);
    let mut settings = db.settings();
    settings.auth.trust_forwarded_for = true;
    settings.auth.login_account_burst = 2;
    settings.auth.login_account_period_secs = 3600;
    settings.auth.login_account_ceiling_burst = 3;
    settings.auth.login_account_ceiling_period_secs = 3600;
    settings.auth.login_address_burst = 4;
    settings.auth.login_address_period_secs = 3600;
    let app = TestApp::spawn_with(db, settings).await;
    let user = app.user(Role::Employee, None);
    for n in 0..10 {
        let got = login_from(&app, "198.51.100.1", &user.email, &user.password).await;
        assert_eq!(got, 200, "sign-in {n}");
    }
    for _ in 0..2 {
        let got = login_from(&app, "198.51.100.1", &user.email, "wrong-password").await;
        assert_eq!(got, 401);
    }
    let got = login_from(&app, "198.51.100.1", &user.email, &user.password).await;
    assert_eq!(got, 429, "two failures spend the budget");
}

/// Someone guessing a colleague's password from one machine is stopped there, and the
/// colleague still signs in from theirs; guesses spread over many machines meet the account's
/// ceiling.
async fn a_guesser_cannot_lock_the_owner_out_from_everywhere(backend: Backend) {
    let db = common::TestDb::new(&backend);
    let mut settings = db.settings();
    settings.auth.trust_forwarded_for = true;
    settings.auth.login_account_burst = 5;
    settings.auth.login_account_period_secs = 3600;
    settings.auth.login_account_ceiling_burst = 8;
    settings.auth.login_account_ceiling_period_secs = 3600;
    settings.auth.login_address_burst = 30;
    settings.auth.login_address_period_secs = 3600;
    let app = TestApp::spawn_with(db, settings).await;
    let user = app.user(Role::Employee, None);
    let guesser = "203.0.113.9";
    for n in 0..5 {
        let got = login_from(&app, guesser, &user.email, &format!("guess-{n}-guess")).await;
        assert_eq!(got, 401, "guess {n}");
    }
    assert_eq!(
        login_from(&app, guesser, &user.email, "guess-5-guess").await,
        429
    );
    assert_eq!(
        login_from(&app, guesser, &user.email, &user.password).await,
        429,
        "the guesser's machine stays refused, even with the right password"
    );
    assert_eq!(
        login_from(&app, "198.51.100.7", &user.email, &user.password).await,
        200,
        "the owner, from their own machine"
    );
    // Three more failures from three other machines reach the ceiling of eight.
    for n in 1..=3 {
        let got = login_from(&app, &format!("192.0.2.{n}"), &user.email, "nope-nope").await;
        assert_eq!(got, 401, "machine {n}");
    }
    assert_eq!(
        login_from(&app, "192.0.2.200", &user.email, "nope-nope").await,
        429,
        "the ceiling over all addresses"
    );
}

both_backends!(
    login_rate_limit_trips_and_recovers,
    successful_sign_ins_do_not_count,
    a_guesser_cannot_lock_the_owner_out_from_everywhere,
);

/// On PostgreSQL the sign-in budgets live in the database: failures spread over two instances
/// of tomoni on one database count against one budget, so a balancer in front multiplies
/// nothing (SQLite runs one instance).
#[actix_web::test]
async fn the_login_limit_holds_across_instances() {
    let Some(backend) = common::postgres() else {
        return;
    };
    let db = common::TestDb::new(&backend);
    let mut settings = db.settings();
    settings.auth.login_account_burst = 3;
    settings.auth.login_account_period_secs = 3600;
    settings.auth.login_address_burst = 100;
    let second_db = db.another_instance();
    let mut second_settings = second_db.settings();
    second_settings.auth = settings.auth.clone();
    let first = TestApp::spawn_with(db, settings).await;
    let second = TestApp::spawn_with(second_db, second_settings).await;
    let user = first.user(Role::Employee, None);
    let wrong = json!({"email": user.email, "password": "wrong-password"});
    for app in [&first, &second, &first] {
        assert_problem(
            &app.post_json("/api/v1/auth/login", wrong.clone()).await,
            401,
            "invalid_credentials",
        );
    }
    // Three failures on two instances spent the budget of three: the right password waits too.
    let right = json!({"email": user.email, "password": user.password});
    assert_problem(
        &second.post_json("/api/v1/auth/login", right.clone()).await,
        429,
        "too_many_attempts",
    );
    assert_problem(
        &first.post_json("/api/v1/auth/login", right).await,
        429,
        "too_many_attempts",
    );
}
