//! Passwords and tokens never reach the log, at any level. The whole server runs in this test's
//! process, so a global subscriber sees every line it writes.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use common::{Backend, TestApp};
use serde_json::json;
use tomoni::auth::Role;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture() -> Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED
        .get_or_init(|| {
            let captured = Captured::default();
            let writer = captured.clone();
            tracing_subscriber::fmt()
                .with_env_filter("trace")
                .with_ansi(false)
                .with_writer(move || writer.clone())
                .init();
            captured
        })
        .clone()
}

async fn secrets_never_reach_the_log(backend: Backend) {
    let captured = capture();
    let app = TestApp::spawn(backend).await;
    let admin = app.user(Role::Admin, None);
    let admin_token = app.token(&admin);
    let new_password = "correct-horse-battery-staple-77";
    let created = app
        .call(
            "POST",
            "/api/v1/users",
            Some(&admin_token),
            Some(
                json!({"employee_number": "L1", "email": "logs@example.com", "display_name": "L",
                        "password": new_password}),
            ),
        )
        .await;
    assert_eq!(created.0, 201);
    let wrong = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": "logs@example.com", "password": "wrong-guess-123456"}),
        )
        .await;
    assert_eq!(wrong.0, 401);
    let tokens = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": "logs@example.com", "password": new_password}),
        )
        .await
        .2;
    let refreshed = app
        .post_json(
            "/api/v1/auth/refresh",
            json!({"refresh_token": tokens["refresh_token"]}),
        )
        .await;
    assert_eq!(refreshed.0, 200);
    // A malformed body that contains a password still must not be echoed into the log.
    let bad = app
        .post_json(
            "/api/v1/auth/login",
            json!({"email": "logs@example.com", "password": 12345678987654321u64}),
        )
        .await;
    assert_eq!(bad.0, 422);
    // The calendar feed's secret sits in its URL: calendar apps send HEAD and cache-busting
    // parameters, and a wrong method is still logged with its target.
    let (status, _, feed) = app
        .call(
            "POST",
            "/api/v1/me/calendar-token",
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(status, 201, "{feed}");
    let feed_token = feed["token"].as_str().unwrap().to_owned();
    let feed_path = format!("/api/v1/me/calendar.ics?token={feed_token}");
    let cache_busted = app
        .call("GET", &format!("{feed_path}&_=1733000000"), None, None)
        .await;
    assert_eq!(cache_busted.0, 200, "unknown parameters are ignored");
    let head = app.call("HEAD", &feed_path, None, None).await;
    assert_eq!(head.0, 200, "the feed answers HEAD");
    let wrong_method = app.call("PUT", &feed_path, None, None).await;
    assert_eq!(wrong_method.0, 405);
    // Without a trusted proxy (the default) the logged client is the TCP peer, not what a
    // client claims in X-Forwarded-For.
    let spoofed = app
        .client()
        .get(app.url("/healthz"))
        .insert_header(("X-Forwarded-For", "203.0.113.99"))
        .send()
        .await
        .expect("request");
    assert_eq!(spoofed.status().as_u16(), 200);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("signed in"),
        "the capture works: {}",
        &log[..log.len().min(2000)]
    );
    for secret in [
        new_password,
        "wrong-guess-123456",
        "12345678987654321",
        admin.password.as_str(),
        app.settings.jwt.secret.expose(),
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
        refreshed.2["refresh_token"].as_str().unwrap(),
        feed_token.as_str(),
    ] {
        assert!(!log.contains(secret), "{secret:?} found in the log");
    }
    assert!(!log.contains("$argon2id$"), "no password hash in the log");
    assert!(
        log.contains("calendar.ics?token=***"),
        "the feed's requests are logged, redacted"
    );
    assert!(
        !log.contains("203.0.113.99"),
        "a forwarded-for address is not logged as the client's"
    );
}

/// A refused request (4xx) is the client's business: it logs at INFO, not WARN; a request that
/// fails on the server's side logs at ERROR. One line each.
async fn client_errors_log_at_info(backend: Backend) {
    let captured = capture();
    let app = TestApp::spawn(backend).await;
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let path = format!("/api/v1/nothing-{tag}");
    assert_eq!(app.get_json(&path).await.0, 404);
    let token = app.token(&app.user(Role::Employee, None));
    let refused = format!("/api/v1/admin/outbox?tag={tag}");
    assert_eq!(app.get_as(&token, &refused).await.0, 400);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains(&tag) && (l.contains("request refused") || l.contains("request failed"))
        })
        .collect();
    assert_eq!(lines.len(), 2, "one line per refused request: {lines:#?}");
    for line in lines {
        assert!(line.contains(" INFO "), "{line}");
        assert!(
            !line.contains(" WARN ") && !line.contains(" ERROR "),
            "{line}"
        );
    }
}

/// Every operation of the OpenAPI document, called with a live access token, the feed secret
/// and a password link's secret as query parameters, and a body full of secrets; then the web
/// pages that take secrets (sign-in, setting a password from a link). None of those secrets
/// may appear in any log line, at any level.
async fn no_endpoint_logs_a_secret(backend: Backend) {
    let captured = capture();
    let mut sink = common::smtp::SmtpSink::start("127.0.0.1:0").await;
    let db = common::TestDb::new(&backend);
    let settings = common::smtp::mailing_to(db.settings(), sink.addr.port());
    let app = TestApp::spawn_with(db, settings).await;
    let admin = app.user(Role::Admin, None);
    let tokens = app.login(&admin).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, _, feed) = app
        .call("POST", "/api/v1/me/calendar-token", Some(&access), None)
        .await;
    assert_eq!(status, 201, "{feed}");
    let feed_token = feed["token"].as_str().unwrap().to_owned();
    // A password link's secret, as the invited person's mail carries it.
    let invited = app.user(Role::Employee, None);
    let (status, _, body) = app
        .call(
            "POST",
            &format!("/api/v1/users/{}/invitation", invited.id),
            Some(&access),
            None,
        )
        .await;
    assert!(status < 300, "{status} {body}");
    let state = tomoni::AppState::init(app.settings.clone()).expect("state");
    let worker = tomoni::mail::worker::Worker::new(state.pool.clone(), &state.settings, None)
        .expect("worker");
    assert_eq!(worker.pass().await.unwrap().sent, 1);
    let link_token = {
        let text = sink
            .next()
            .await
            .data
            .replace("=\r\n", "")
            .replace("=3D", "=");
        let at = text
            .find("set-password?token=")
            .expect("the invitation's link")
            + 19;
        text[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || "-_".contains(*c))
            .collect::<String>()
    };
    assert!(link_token.len() >= 32, "{link_token}");
    let password = "log-probe-password-31415926";

    let (_, _, doc) = app.get_json("/api-docs/openapi.json").await;
    let mut called = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            // Every path parameter gets a real id: enough to reach the handler's checks.
            let mut concrete = String::new();
            let mut rest = path.as_str();
            while let Some(open) = rest.find('{') {
                concrete.push_str(&rest[..open]);
                concrete.push_str(&admin.id.to_string());
                rest = &rest[rest[open..].find('}').unwrap() + open + 1..];
            }
            concrete.push_str(rest);
            let targets = [
                format!("{concrete}?token={feed_token}&password={password}"),
                format!("{concrete}?token={link_token}"),
                concrete.clone(),
            ];
            let body = (method != "get" && method != "delete").then(|| {
                json!({"password": password, "refresh_token": refresh, "token": link_token,
                        "email": admin.email, "current_password": admin.password})
            });
            // With the secrets in the query, and without a query (a handler that refuses
            // unknown parameters then runs its own checks on the body).
            for target in &targets {
                let (status, _, answer) = app
                    .call(&method.to_uppercase(), target, Some(&access), body.clone())
                    .await;
                assert!(status < 500, "{method} {path}: {status} {answer}");
            }
            called += 1;
        }
    }
    assert!(called > 60, "the walk reached every operation: {called}");
    // The pages: a sign-in (wrong password, then the right one) and a password link.
    for given in [password, admin.password.as_str()] {
        let res = app
            .client()
            .post(app.url("/sign-in"))
            .insert_header(("Origin", app.url("")))
            .send_form(&[("email", admin.email.as_str()), ("password", given)])
            .await
            .unwrap();
        assert!(res.status().as_u16() < 500);
    }
    let page = app
        .client()
        .get(app.url(&format!("/set-password?token={link_token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for secret in [
        password,
        admin.password.as_str(),
        app.settings.jwt.secret.expose(),
        access.as_str(),
        refresh.as_str(),
        feed_token.as_str(),
        link_token.as_str(),
    ] {
        let leaks: Vec<&str> = log.lines().filter(|l| l.contains(secret)).collect();
        assert!(leaks.is_empty(), "{secret:?} found in the log: {leaks:#?}");
    }
    assert!(!log.contains("$argon2id$"), "no password hash in the log");
}

both_backends!(
    secrets_never_reach_the_log,
    client_errors_log_at_info,
    no_endpoint_logs_a_secret,
);
