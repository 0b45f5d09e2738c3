//! Several instances: three `tomoni serve` processes on one PostgreSQL database behind a real
//! HAProxy on loopback, as an operator runs them for rolling upgrades and failover.
//!
//! One test, in the order an operator meets the cases: the three mail workers deliver each of
//! 1,000 queued messages exactly once; the sign-in limit holds across the instances; a sign-up
//! storm spread over the three (one of them killed with SIGKILL part-way, clients retrying with
//! their Idempotency-Key as the API asks) never overbooks, loses no acknowledged sign-up and keeps
//! the waitlist first-come-first-served; after the killed instance is started again, freed seats
//! go to the head of the line.
//!
//! PostgreSQL only (several processes on one SQLite file is not a supported deployment). Needs
//! Debian's `haproxy`; without it the test says so and passes, unless
//! `TOMONI_TEST_REQUIRE_HAPROXY=1` (set by `.ci/run`, which installs it).

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use actix_web::rt::time::sleep;
use common::smtp::SmtpSink;
use common::{TestApp, TestDb, TestUser};
use diesel::prelude::*;
use serde_json::{Value, json};
use tomoni::auth::Role;
use tomoni::db::Id;
use tomoni::db::schema::{events, outbox, signups};

const SECRET: &str = "instances-test-secret-0123456789abcdef";
const MESSAGES: usize = 1000;
const CAPACITY: usize = 50;
const PEOPLE: usize = 300;
/// Simultaneous clients in the storm; each sends its employees' sign-ups one after another.
const CLIENTS: usize = 30;
/// Acknowledged sign-ups before one instance is killed.
const KILL_AFTER: usize = 100;
const SIGN_IN_BURST: usize = 3;

fn haproxy() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("haproxy"))
        .find(|path| path.is_file());
    if found.is_none() {
        assert!(
            std::env::var("TOMONI_TEST_REQUIRE_HAPROXY").as_deref() != Ok("1"),
            "TOMONI_TEST_REQUIRE_HAPROXY=1 but haproxy is not installed"
        );
        eprintln!("haproxy not installed: the several-instances test is not run");
    }
    found
}

/// A child process killed when dropped, so a failing test leaves nothing running.
struct Process(Option<Child>);

impl Process {
    fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One `tomoni serve` on `db` at `port`: the production binary with its mail worker delivering
/// to the sink, sign-in limits of `SIGN_IN_BURST`, and client addresses taken from HAProxy.
fn serve(db: &TestDb, port: u16, smtp_port: u16) -> Process {
    let log = std::fs::File::create(db.data_dir().join("tomoni.log")).expect("log file");
    let mut cmd = common::binary();
    cmd.current_dir(db.data_dir())
        .env("TOMONI__DATABASE__URL", &db.url)
        .env(
            "TOMONI__DATABASE__PREPARED_STATEMENTS",
            (!db.pooled).to_string(),
        )
        .env("TOMONI__DATABASE__POOL_MAX_SIZE", "8")
        .env("TOMONI__SERVER__PORT", port.to_string())
        .env("TOMONI__SERVER__WORKERS", "2")
        .env("TOMONI__SERVER__SHUTDOWN_TIMEOUT_SECS", "1")
        .env("TOMONI__JWT__SECRET", SECRET)
        .env("TOMONI__DATA__DIR", db.data_dir())
        .env("TOMONI__LOG__LEVEL", "warn")
        .env("TOMONI__MAIL__WORKER_ENABLED", "true")
        .env("TOMONI__MAIL__TRANSPORT", "smtp")
        .env("TOMONI__MAIL__SMTP__HOST", "127.0.0.1")
        .env("TOMONI__MAIL__SMTP__PORT", smtp_port.to_string())
        .env("TOMONI__MAIL__SMTP__TLS", "none")
        .env("TOMONI__MAIL__POLL_INTERVAL_MS", "50")
        .env("TOMONI__MAIL__BATCH_SIZE", "10")
        .env("TOMONI__MAIL__RETRY_BASE_MS", "0")
        .env(
            "TOMONI__AUTH__LOGIN_ACCOUNT_BURST",
            SIGN_IN_BURST.to_string(),
        )
        .env("TOMONI__AUTH__LOGIN_ACCOUNT_PERIOD_SECS", "3600")
        .env("TOMONI__AUTH__TRUST_FORWARDED_FOR", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log));
    Process(Some(cmd.spawn().expect("start tomoni")))
}

/// HAProxy on `port` balancing round-robin over the instances, watching their `/readyz`.
fn balance(haproxy: &PathBuf, dir: &std::path::Path, port: u16, instances: &[u16]) -> Process {
    let servers: String = instances
        .iter()
        .enumerate()
        .map(|(i, p)| format!("    server tomoni{i} 127.0.0.1:{p} check\n"))
        .collect();
    let config = format!(
        "global\n    maxconn 2000\n\
         defaults\n    mode http\n    timeout connect 2s\n    timeout client 30s\n    \
         timeout server 30s\n    retries 3\n    option redispatch 1\n\
         frontend tomoni\n    bind 127.0.0.1:{port}\n    option forwardfor\n    \
         default_backend instances\n\
         backend instances\n    balance roundrobin\n    option httpchk GET /readyz\n    \
         default-server inter 200ms fall 2 rise 2\n{servers}"
    );
    let file = dir.join("haproxy.cfg");
    std::fs::write(&file, config).expect("write haproxy.cfg");
    let log = std::fs::File::create(dir.join("haproxy.log")).expect("log file");
    let child = Command::new(haproxy)
        .arg("-db")
        .arg("-f")
        .arg(&file)
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("start haproxy");
    Process(Some(child))
}

/// Waits (bounded) until `GET {base}/readyz` answers 200.
async fn ready(client: &awc::Client, base: &str) {
    for _ in 0..400 {
        if let Ok(res) = client.get(format!("{base}/readyz")).send().await
            && res.status() == 200
        {
            return;
        }
        sleep(Duration::from_millis(50)).await;
    }
    panic!("{base} did not become ready");
}

/// The sum of one instance's counter samples whose line contains every one of `parts`.
async fn counter(client: &awc::Client, port: u16, name: &str, parts: &[&str]) -> u64 {
    let mut res = client
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .expect("metrics");
    let body = res.body().limit(1 << 22).await.expect("metrics body");
    String::from_utf8_lossy(&body)
        .lines()
        .filter(|line| line.starts_with(name) && parts.iter().all(|p| line.contains(p)))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>() as u64
}

/// One acknowledged sign-up as its client saw it.
#[derive(Debug, Clone)]
struct Ack {
    /// When the first attempt was sent and when the 201 arrived.
    sent: Instant,
    answered: Instant,
    id: Id,
    user: Id,
    status: String,
    position: Option<i64>,
    attempts: usize,
}

impl Ack {
    /// Place in the line: 0 for a seat, else the waitlist position.
    fn rank(&self) -> i64 {
        self.position.unwrap_or(0)
    }
}

/// Signs `user` up through the balancer as the API asks a client to: the same Idempotency-Key
/// again after anything that is not the service's answer (a dropped connection, 502/503/504 from
/// HAProxy), and after `Retry-After` on 409 `idempotency_in_progress` — which a killed instance
/// leaves for a request it had begun, until the claim counts as abandoned
/// (`idempotency::ABANDONED_AFTER_SECS`, 60 s).
async fn sign_up(client: &awc::Client, url: &str, token: &str, user: Id) -> Ack {
    let key = uuid::Uuid::new_v4().to_string();
    let sent = Instant::now();
    let deadline = sent + Duration::from_secs(150);
    let mut attempts = 0;
    while Instant::now() < deadline {
        attempts += 1;
        let res = client
            .post(url)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("Idempotency-Key", key.clone()))
            .send_json(&json!({}))
            .await;
        let mut wait = Duration::from_millis((20 * attempts as u64).min(500));
        if let Ok(mut res) = res {
            let status = res.status().as_u16();
            if status == 201 {
                let body: Value = res.json().await.expect("sign-up body");
                return Ack {
                    sent,
                    answered: Instant::now(),
                    id: body["id"].as_str().expect("id").parse().expect("uuid"),
                    user,
                    status: body["status"].as_str().expect("status").to_owned(),
                    position: body["waitlist_position"].as_i64(),
                    attempts,
                };
            }
            let retry_after = res
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
            let body = res.body().await.unwrap_or_default();
            let body = String::from_utf8_lossy(&body);
            if status == 409 && body.contains("idempotency_in_progress") {
                wait = Duration::from_secs(retry_after.expect("Retry-After on 409"));
            } else {
                assert!(
                    matches!(status, 502..=504),
                    "sign-up answered {status}: {body}"
                );
            }
        }
        sleep(wait).await;
    }
    panic!("sign-up for {user} not acknowledged within 150 s ({attempts} attempts)");
}

#[actix_web::test]
async fn three_instances_behind_haproxy_share_one_database() {
    let Some(backend) = common::postgres() else {
        return;
    };
    let Some(haproxy) = haproxy() else {
        return;
    };
    let sink = SmtpSink::start("127.0.0.1:0").await;
    let db = TestDb::new(&backend);
    let mut settings = db.settings();
    settings.jwt.secret = tomoni::config::Secret::new(SECRET.to_owned());
    let homes: Vec<TestDb> = (0..3).map(|_| db.another_instance()).collect();
    // In-process, not behind the balancer: only prepares data and mints tokens.
    let app = TestApp::spawn_with(db, settings).await;
    let site = app.site("S");
    let coordinator = app.coordinator(&[site]);
    let coord_token = app.token(&coordinator);
    let program = app.program(&coord_token, site, json!({})).await;
    let start = chrono::Utc::now() + chrono::Duration::days(7);
    let event = app
        .published_event(
            &coord_token,
            &program,
            start,
            2,
            json!({"capacity": CAPACITY, "waitlist_enabled": true}),
        )
        .await;

    let ports: Vec<u16> = (0..3).map(|_| common::free_port()).collect();
    let mut instances: Vec<Process> = homes
        .iter()
        .zip(&ports)
        .map(|(home, port)| serve(home, *port, sink.addr.port()))
        .collect();
    let client = awc::Client::builder()
        .timeout(Duration::from_secs(30))
        .finish();
    for port in &ports {
        ready(&client, &format!("http://127.0.0.1:{port}")).await;
    }
    let front_port = common::free_port();
    let balancer_dir = tempfile::tempdir().expect("temp dir");
    let _balancer = balance(&haproxy, balancer_dir.path(), front_port, &ports);
    let front = format!("http://127.0.0.1:{front_port}");
    ready(&client, &front).await;

    // 1. Three mail workers, one queue: each of 1,000 messages goes exactly once.
    let reader = app.user(Role::Employee, Some(site));
    {
        let conn = &mut app.conn();
        for i in 0..MESSAGES {
            tomoni::outbox::enqueue(
                conn,
                tomoni::outbox::Outgoing {
                    kind: "signup_waitlisted",
                    dedupe_key: format!("instances:{i}"),
                    user: reader.id,
                    payload: json!({"event_id": event, "position": i + 1}),
                    not_before: tomoni::db::Timestamp::now(),
                },
            )
            .expect("enqueue");
        }
    }
    let mail_started = Instant::now();
    let deadline = mail_started + Duration::from_secs(180);
    loop {
        let waiting: i64 = outbox::table
            .filter(outbox::status.ne("sent"))
            .count()
            .get_result(&mut app.conn())
            .expect("count outbox");
        if waiting == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{waiting} messages still unsent after 180 s"
        );
        sleep(Duration::from_millis(100)).await;
    }
    let mail = sink.all();
    let ids: BTreeSet<String> = mail
        .iter()
        .map(|m| m.header("Message-ID").expect("Message-ID"))
        .collect();
    assert_eq!(mail.len(), MESSAGES, "messages received");
    assert_eq!(ids.len(), MESSAGES, "no message received twice");
    let attempts: Vec<i32> = outbox::table
        .select(outbox::attempts)
        .load(&mut app.conn())
        .expect("attempts");
    assert!(
        attempts.iter().all(|a| *a == 1),
        "each sent on its first go"
    );
    let mut sent_by = Vec::new();
    for port in &ports {
        sent_by.push(counter(&client, *port, "tomoni_mail_sent", &[]).await);
    }
    assert_eq!(sent_by.iter().sum::<u64>(), MESSAGES as u64, "{sent_by:?}");
    assert!(
        sent_by.iter().all(|n| *n > 0),
        "every instance's worker delivered some: {sent_by:?}"
    );
    eprintln!(
        "1,000 messages delivered in {:?}, per instance {sent_by:?}",
        mail_started.elapsed()
    );

    // 2. The sign-in limit counts failures on every instance against one budget.
    let person = app.user(Role::Employee, Some(site));
    let login = format!("{front}/api/v1/auth/login");
    for _ in 0..SIGN_IN_BURST {
        let res = client
            .post(&login)
            .send_json(&json!({"email": person.email, "password": "wrong-password"}))
            .await
            .expect("login");
        assert_eq!(res.status().as_u16(), 401);
    }
    let mut refused_by = Vec::new();
    for port in &ports {
        refused_by.push(
            counter(
                &client,
                *port,
                "tomoni_http_requests",
                &["/api/v1/auth/login", "401"],
            )
            .await,
        );
    }
    assert!(
        refused_by.iter().filter(|n| **n > 0).count() >= 2,
        "the failures reached more than one instance: {refused_by:?}"
    );
    let mut res = client
        .post(&login)
        .send_json(&json!({"email": person.email, "password": person.password}))
        .await
        .expect("login");
    let body: Value = res.json().await.expect("problem");
    assert_eq!(res.status().as_u16(), 429, "{body}");
    assert_eq!(body["code"], "too_many_attempts");

    // 3. A sign-up storm over the three; one instance is killed part-way.
    let people: Vec<TestUser> = app.employees(PEOPLE, Some(site));
    let tokens: Vec<(Id, String)> = people.iter().map(|p| (p.id, app.token(p))).collect();
    let url = format!("{front}/api/v1/events/{event}/signups");
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let victim = Arc::new(std::sync::Mutex::new(instances.remove(1)));
    let clients = tokens.chunks(PEOPLE / CLIENTS).map(|mine| {
        let (client, url, acknowledged, victim) = (
            client.clone(),
            url.clone(),
            acknowledged.clone(),
            victim.clone(),
        );
        let mine = mine.to_vec();
        async move {
            let mut acks = Vec::new();
            for (user, token) in &mine {
                acks.push(sign_up(&client, &url, token, *user).await);
                if acknowledged.fetch_add(1, Ordering::SeqCst) + 1 == KILL_AFTER {
                    victim.lock().expect("victim").kill();
                }
            }
            acks
        }
    });
    let storm_started = Instant::now();
    let acks: Vec<Ack> = futures_util::future::join_all(clients)
        .await
        .into_iter()
        .flatten()
        .collect();
    assert_eq!(acks.len(), PEOPLE, "every sign-up acknowledged in the end");
    let retried = acks.iter().filter(|a| a.attempts > 1).count();
    eprintln!(
        "storm: {PEOPLE} sign-ups in {:?}, {retried} retried, longest {:?}",
        storm_started.elapsed(),
        acks.iter().map(|a| a.answered - a.sent).max()
    );
    assert!(
        retried > 0,
        "the kill caught sign-ups in flight (none needed a retry)"
    );
    let served_by_survivors = [ports[0], ports[2]];
    for port in served_by_survivors {
        let n = counter(
            &client,
            port,
            "tomoni_http_requests",
            &["/api/v1/events/{id}/signups", "201"],
        )
        .await;
        assert!(n > 0, "instance on {port} served sign-ups");
    }

    // Every acknowledged sign-up is there as acknowledged; nothing else is; no overbooking.
    let event_id: Id = event.parse().expect("event id");
    let rows: HashMap<Id, (Id, String, Option<i32>)> = signups::table
        .filter(signups::event_id.eq(event_id))
        .select((
            signups::id,
            signups::user_id,
            signups::status,
            signups::waitlist_position,
        ))
        .load::<(Id, Id, String, Option<i32>)>(&mut app.conn())
        .expect("sign-ups")
        .into_iter()
        .map(|(id, user, status, position)| (id, (user, status, position)))
        .collect();
    assert_eq!(rows.len(), PEOPLE, "one row per employee, no duplicates");
    for ack in &acks {
        let (user, status, position) = rows
            .get(&ack.id)
            .unwrap_or_else(|| panic!("acknowledged sign-up {} is missing", ack.id));
        assert_eq!(
            (user, status, position.map(i64::from)),
            (&ack.user, &ack.status, ack.position),
            "row as acknowledged"
        );
    }
    let confirmed = acks.iter().filter(|a| a.status == "confirmed").count();
    assert_eq!(confirmed, CAPACITY, "every seat taken, none twice");
    let mut positions: Vec<i64> = acks.iter().filter_map(|a| a.position).collect();
    positions.sort();
    assert_eq!(
        positions,
        (1..=(PEOPLE - CAPACITY) as i64).collect::<Vec<_>>(),
        "the waitlist is 1..n, each place once"
    );
    let (taken, waitlisted): (i32, i32) = events::table
        .filter(events::id.eq(event_id))
        .select((events::taken, events::waitlisted))
        .first(&mut app.conn())
        .expect("counters");
    assert_eq!(
        (taken as usize, waitlisted as usize),
        (CAPACITY, PEOPLE - CAPACITY)
    );
    // First come, first served across instances: a sign-up sent after another was acknowledged
    // is never ahead of it in the line.
    for later in &acks {
        for earlier in acks.iter().filter(|a| a.answered < later.sent) {
            assert!(
                earlier.rank() == 0 && later.rank() == 0 || later.rank() > earlier.rank(),
                "{later:?} sent after {earlier:?} was acknowledged, yet not behind it"
            );
        }
    }

    // 4. The killed instance comes back on its port; freed seats go to the head of the line.
    let back = serve(&homes[1], ports[1], sink.addr.port());
    ready(&client, &format!("http://127.0.0.1:{}", ports[1])).await;
    let mut leaving: Vec<&Ack> = acks.iter().filter(|a| a.status == "confirmed").collect();
    leaving.truncate(5);
    for ack in &leaving {
        let token = &tokens
            .iter()
            .find(|(u, _)| *u == ack.user)
            .expect("token")
            .1;
        let mut res = client
            .delete(format!("{front}/api/v1/signups/{}", ack.id))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .expect("cancel");
        let body: Value = res.json().await.expect("cancel body");
        assert_eq!(res.status().as_u16(), 200, "{body}");
    }
    let line: HashMap<Id, (String, Option<i32>)> = signups::table
        .filter(signups::event_id.eq(event_id))
        .select((signups::id, signups::status, signups::waitlist_position))
        .load::<(Id, String, Option<i32>)>(&mut app.conn())
        .expect("sign-ups")
        .into_iter()
        .map(|(id, status, position)| (id, (status, position)))
        .collect();
    for ack in &acks {
        let now = &line[&ack.id];
        let expected = match ack.position {
            None if leaving.iter().any(|l| l.id == ack.id) => ("cancelled".to_owned(), None),
            None => ("confirmed".to_owned(), None),
            Some(p) if p <= 5 => ("confirmed".to_owned(), None),
            Some(p) => ("waitlisted".to_owned(), Some(p as i32 - 5)),
        };
        assert_eq!(now, &expected, "{ack:?}");
    }
    drop(back);
}
