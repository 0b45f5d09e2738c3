//! Reliability: PostgreSQL stopped and started while the service is under load. While it is down
//! `/readyz` and every database-backed request answer 503 problem+json within the pool's timeout;
//! when it is back the service recovers by itself; nothing acknowledged is lost.
//!
//! Needs a PostgreSQL that may be stopped (never the shared one every other test uses):
//! `TOMONI_TEST_OUTAGE_POSTGRES_URL`, `TOMONI_TEST_OUTAGE_STOP` and `TOMONI_TEST_OUTAGE_START`
//! (shell commands), which `eval "$(.ci/pg-private.sh up)"` sets for a private cluster and
//! `.ci/run` always sets.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::rt::time::sleep;
use common::{Backend, TestApp, TestDb, TestUser};
use serde_json::json;
use tokio::sync::Mutex;
use tomoni::auth::Role;

/// Pool wait (and libpq connect timeout) of the app under test: the longest a request may wait
/// for the database before answering 503.
const POOL_TIMEOUT_SECS: u64 = 2;
/// What "hangs past its timeout" means here: the pool's wait plus room for a busy machine.
const LATEST_ANSWER: Duration = Duration::from_millis(POOL_TIMEOUT_SECS * 1000 + 1500);
const WORKERS: usize = 8;
const EMPLOYEES: usize = 600;

struct Outage {
    admin_url: String,
    stop: String,
    start: String,
}

fn outage_cluster() -> Option<Outage> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        var("TOMONI_TEST_OUTAGE_POSTGRES_URL"),
        var("TOMONI_TEST_OUTAGE_STOP"),
        var("TOMONI_TEST_OUTAGE_START"),
    ) {
        (Some(admin_url), Some(stop), Some(start)) => Some(Outage {
            admin_url,
            stop,
            start,
        }),
        _ => {
            assert!(
                std::env::var("TOMONI_TEST_REQUIRE_OUTAGE").as_deref() != Ok("1"),
                "TOMONI_TEST_REQUIRE_OUTAGE=1 but the TOMONI_TEST_OUTAGE_* variables are not set"
            );
            eprintln!("TOMONI_TEST_OUTAGE_* not set: the PostgreSQL outage test is not run");
            None
        }
    }
}

/// One answered request: when it started, how long it took, its status and problem code.
#[derive(Debug, Clone)]
struct Answer {
    started: Instant,
    took: Duration,
    status: u16,
    code: Option<String>,
    signup: Option<String>,
}

#[derive(Default)]
struct Log {
    answers: Mutex<Vec<Answer>>,
    /// Requests the server did not answer (transport error or client timeout).
    unanswered: Mutex<Vec<String>>,
    ok: AtomicUsize,
    unavailable: AtomicUsize,
}

/// Waits (bounded) until `cond` holds, checking every 20 ms.
async fn until(what: &str, limit: Duration, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        sleep(Duration::from_millis(20)).await;
    }
}

/// `/readyz` status, polled (bounded) until it is `want`. Returns the time it took.
async fn readyz_becomes(app: &TestApp, want: u16, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let (status, content_type, body) = app.get_json("/readyz").await;
        if status == want {
            if want == 503 {
                assert!(content_type.starts_with("application/problem+json"));
                assert_eq!(body["code"], "not_ready", "{body}");
            }
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "/readyz stayed {status}, wanted {want}"
        );
        sleep(Duration::from_millis(50)).await;
    }
}

#[actix_web::test]
async fn a_postgres_restart_under_load_answers_503_and_recovers() {
    let Some(cluster) = outage_cluster() else {
        return;
    };
    // Whatever happens below, leave the cluster running for the next run.
    struct Restart(String);
    impl Drop for Restart {
        fn drop(&mut self) {
            let _ = std::process::Command::new("sh")
                .args(["-c", &self.0])
                .status();
        }
    }
    let _restart = Restart(cluster.start.clone());
    common::shell(&cluster.start).await;

    let db = TestDb::new(&Backend::Postgres {
        admin_url: cluster.admin_url.clone(),
    });
    let mut settings = db.settings();
    settings.database.connect_timeout_secs = POOL_TIMEOUT_SECS;
    let app = Arc::new(TestApp::spawn_with(db, settings).await);

    let site = app.site("OUT");
    let coordinator = app.coordinator(&[site]);
    let coord = app.token(&coordinator);
    let program = app
        .program(&coord, site, json!({"code": "P", "title": "Park clean-up"}))
        .await;
    let start = chrono::Utc::now() + chrono::Duration::days(10);
    let event = app
        .published_event(&coord, &program, start, 2, json!({"capacity": 1000}))
        .await;
    let employees: Vec<TestUser> = app.employees(EMPLOYEES, Some(site));
    let tokens: Arc<Mutex<Vec<String>>> =
        Arc::new(Mutex::new(employees.iter().map(|e| app.token(e)).collect()));
    let reader = app.token(&app.user(Role::Employee, Some(site)));

    // The load: each worker alternates a sign-up (a new employee each time) and a page of the
    // event list, until told to stop; every request has a client timeout well past the pool's.
    let log = Arc::new(Log::default());
    let stop = Arc::new(AtomicBool::new(false));
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(15))
        .finish();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let (app, log, stop, tokens, client, reader, event) = (
                app.clone(),
                log.clone(),
                stop.clone(),
                tokens.clone(),
                client.clone(),
                reader.clone(),
                event.clone(),
            );
            actix_web::rt::spawn(async move {
                let mut write = true;
                // Bounded: the phases below need far fewer requests than this.
                for _ in 0..5_000 {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let request = if write {
                        let Some(token) = tokens.lock().await.pop() else {
                            break;
                        };
                        client
                            .post(app.url(&format!("/api/v1/events/{event}/signups")))
                            .insert_header(("Authorization", format!("Bearer {token}")))
                            .send_json(&json!({}))
                    } else {
                        client
                            .get(app.url("/api/v1/events?limit=50"))
                            .insert_header(("Authorization", format!("Bearer {reader}")))
                            .send()
                    };
                    let started = Instant::now();
                    match request.await {
                        Ok(mut res) => {
                            let (status, _, body) = common::read_json(&mut res).await;
                            let took = started.elapsed();
                            match status {
                                200 | 201 => log.ok.fetch_add(1, Ordering::SeqCst),
                                _ => log.unavailable.fetch_add(1, Ordering::SeqCst),
                            };
                            log.answers.lock().await.push(Answer {
                                started,
                                took,
                                status,
                                code: body["code"].as_str().map(str::to_owned),
                                signup: (write && status == 201)
                                    .then(|| body["id"].as_str().unwrap_or_default().to_owned()),
                            });
                        }
                        Err(e) => log.unanswered.lock().await.push(format!("{e}")),
                    }
                    write = !write;
                }
            })
        })
        .collect();

    // Up: the load runs.
    until("answers before the outage", Duration::from_secs(30), || {
        log.ok.load(Ordering::SeqCst) >= 40
    })
    .await;

    // Down: stopped with open connections (a fast shutdown terminates them).
    common::shell(&cluster.stop).await;
    let down_from = Instant::now();
    readyz_becomes(&app, 503, Duration::from_secs(10)).await;
    let unavailable = log.unavailable.load(Ordering::SeqCst);
    until("503s during the outage", Duration::from_secs(30), || {
        log.unavailable.load(Ordering::SeqCst) >= unavailable + 2 * WORKERS
    })
    .await;
    let down_until = Instant::now();

    // Back: no restart of the service, no intervention.
    common::shell(&cluster.start).await;
    let up_from = Instant::now();
    let recovered_in = readyz_becomes(&app, 200, Duration::from_secs(30)).await;
    let ok = log.ok.load(Ordering::SeqCst);
    until("answers after the outage", Duration::from_secs(30), || {
        log.ok.load(Ordering::SeqCst) >= ok + 40
    })
    .await;
    stop.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.expect("load worker");
    }

    let unanswered = log.unanswered.lock().await.clone();
    assert!(unanswered.is_empty(), "unanswered requests: {unanswered:?}");
    let answers = log.answers.lock().await.clone();
    let slowest = answers.iter().map(|a| a.took).max().unwrap();
    eprintln!(
        "{} answers ({} 503), slowest {slowest:?}; /readyz 200 again {recovered_in:?} after the restart",
        answers.len(),
        answers.iter().filter(|a| a.status == 503).count()
    );
    assert!(
        slowest <= LATEST_ANSWER,
        "a request took {slowest:?} (limit {LATEST_ANSWER:?})"
    );
    for a in &answers {
        match a.status {
            200 | 201 => {}
            503 => assert_eq!(
                a.code.as_deref(),
                Some("database_unavailable"),
                "503 problem code: {a:?}"
            ),
            other => panic!("unexpected status {other}: {a:?}"),
        }
    }
    // Requests made while the database was down all got 503, and some were made.
    let during: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.started >= down_from && a.started + a.took <= down_until)
        .collect();
    assert!(
        during.len() >= WORKERS,
        "{} during the outage",
        during.len()
    );
    assert!(during.iter().all(|a| a.status == 503), "{during:?}");
    // After the restart every request succeeds again.
    let after = answers
        .iter()
        .filter(|a| a.started >= up_from + recovered_in);
    assert!(after.clone().count() >= 20);
    assert!(
        after.clone().all(|a| a.status < 300),
        "{:?}",
        after.collect::<Vec<_>>()
    );

    // Nothing acknowledged was lost; the seat counter matches the rows.
    let (status, _, roster) = app
        .call(
            "GET",
            &format!("/api/v1/events/{event}/roster"),
            Some(&coord),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let on_roster: std::collections::HashSet<&str> = roster
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["signup_id"].as_str().unwrap())
        .collect();
    let acknowledged: Vec<&String> = answers.iter().filter_map(|a| a.signup.as_ref()).collect();
    for id in &acknowledged {
        assert!(
            on_roster.contains(id.as_str()),
            "acknowledged sign-up {id} is missing"
        );
    }
    let (status, _, ev) = app.get_as(&coord, &format!("/api/v1/events/{event}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        ev["seats_taken"].as_u64(),
        Some(on_roster.len() as u64),
        "{ev}"
    );
}
