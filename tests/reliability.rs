//! Reliability: the server killed with SIGKILL in the middle of a sign-up storm loses nothing it
//! acknowledged, leaves nothing half-written, and never overbooks.

mod common;

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Backend, TestDb};
use diesel::prelude::*;
use serde_json::{Value, json};
use tomoni::auth::Role;
use tomoni::auth::tokens::TokenKeys;
use tomoni::db::Id;
use tomoni::db::schema::{events, signups};

const SECRET: &str = "reliability-test-secret-0123456789abcdef";
const CAPACITY: i32 = 50;
const PEOPLE: usize = 200;

/// The real binary on `db`, its own process (so it can be killed).
fn start(db: &TestDb, port: u16) -> Child {
    let mut cmd = common::binary();
    cmd.current_dir(db.data_dir())
        .env("TOMONI__DATABASE__URL", &db.url)
        .env("TOMONI__SERVER__PORT", port.to_string())
        .env("TOMONI__JWT__SECRET", SECRET)
        .env("TOMONI__DATA__DIR", db.data_dir())
        .env("TOMONI__MAIL__WORKER_ENABLED", "false")
        .env("TOMONI__LOG__LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start tomoni")
}

/// Waits (bounded) until `/readyz` answers 200.
async fn ready(client: &awc::Client, port: u16) {
    for _ in 0..200 {
        if let Ok(res) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            && res.status() == 200
        {
            return;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("tomoni did not become ready");
}

async fn a_killed_server_keeps_every_acknowledged_sign_up(backend: Backend) {
    let db = TestDb::new(&backend);
    let mut settings = db.settings();
    settings.jwt.secret = tomoni::config::Secret::new(SECRET.to_owned());
    // Prepare the data through the library, on the database the binary will use.
    let pool = tomoni::db::init(&settings.database).unwrap();
    let admin = common::admin_principal();
    let (event, tokens) = {
        let conn = &mut pool.get().unwrap();
        let company: Id = tomoni::org::companies::create(
            conn,
            &admin,
            serde_json::from_value(json!({"code": "G", "name": "G", "country": "JP"})).unwrap(),
        )
        .unwrap()
        .id
        .into();
        let site: Id = tomoni::org::sites::create(
            conn,
            &admin,
            serde_json::from_value(json!({"code": "S", "name": "S", "company_id": company.to_string(),
                "country": "JP", "region": "domestic", "timezone": "Asia/Tokyo", "opened_on": "2000-01-01"}))
            .unwrap(),
        )
        .unwrap()
        .id
        .into();
        let program = tomoni::programs::program::create(
            conn,
            &serde_json::from_value(
                json!({"site_id": site.to_string(), "code": "P", "title": "P", "theme": "nature"}),
            )
            .unwrap(),
        )
        .unwrap();
        let start = chrono::Utc::now() + chrono::Duration::days(7);
        let req = serde_json::from_value(json!({"program_id": program.to_string(),
            "starts_at": start.to_rfc3339(), "ends_at": (start + chrono::Duration::hours(2)).to_rfc3339(),
            "capacity": CAPACITY}))
        .unwrap();
        let admin = tomoni::people::users::create(
            conn,
            &tomoni::people::NewUser {
                employee_number: "A".into(),
                email: "admin@example.com".into(),
                display_name: "A".into(),
                site_id: None,
                role: Role::Admin,
                locale: "en".into(),
                password: None,
            },
        )
        .unwrap();
        let event = tomoni::programs::events::create(conn, &req, admin).unwrap();
        tomoni::programs::events::publish(conn, event).unwrap();
        let keys = TokenKeys::new(&settings.jwt.secret, &settings.jwt);
        let tokens: Vec<String> = (0..PEOPLE)
            .map(|i| {
                let id = tomoni::people::users::create(
                    conn,
                    &tomoni::people::NewUser {
                        employee_number: format!("E{i}"),
                        email: format!("e{i}@example.com"),
                        display_name: format!("E{i}"),
                        site_id: Some(site),
                        role: Role::Employee,
                        locale: "en".into(),
                        password: None,
                    },
                )
                .unwrap();
                let sign_in = tomoni::db::Id::new();
                tomoni::auth::refresh::issue(conn, id, sign_in, 3600).unwrap();
                keys.issue(id, Role::Employee, sign_in).unwrap()
            })
            .collect();
        (event, tokens)
    };
    drop(pool);

    let port = common::free_port();
    let mut server = start(&db, port);
    let client = awc::Client::builder()
        .timeout(std::time::Duration::from_secs(10))
        .finish();
    ready(&client, port).await;

    // The storm: every employee at once; the server is killed once a quarter have answers.
    let answered = Arc::new(AtomicUsize::new(0));
    let pid = server.id();
    let url = format!("http://127.0.0.1:{port}/api/v1/events/{event}/signups");
    let requests = tokens.iter().map(|token| {
        let (client, url, answered) = (client.clone(), url.clone(), answered.clone());
        async move {
            let sent = client
                .post(&url)
                .insert_header(("Authorization", format!("Bearer {token}")))
                .send_json(&json!({}))
                .await;
            let result = match sent {
                Ok(mut res) if res.status().is_success() => res.json::<Value>().await.ok(),
                _ => None,
            };
            if answered.fetch_add(1, Ordering::SeqCst) + 1 == PEOPLE / 4 {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            }
            result
        }
    });
    let results: Vec<Option<Value>> = futures_util::future::join_all(requests).await;
    let _ = server.wait();
    let acknowledged: Vec<Value> = results.into_iter().flatten().collect();
    assert!(
        !acknowledged.is_empty(),
        "some sign-ups were answered before the kill"
    );
    assert!(
        acknowledged.len() < PEOPLE,
        "the kill interrupted the storm"
    );

    // Restart on the same database: everything acknowledged is there, as acknowledged.
    let mut server = start(&db, port);
    ready(&client, port).await;
    let pool = tomoni::db::init(&settings.database).unwrap();
    let conn = &mut pool.get().unwrap();
    let rows: HashMap<Id, (String, Option<i32>)> = signups::table
        .filter(signups::event_id.eq(event))
        .select((signups::id, signups::status, signups::waitlist_position))
        .load::<(Id, String, Option<i32>)>(conn)
        .unwrap()
        .into_iter()
        .map(|(id, s, p)| (id, (s, p)))
        .collect();
    for ack in &acknowledged {
        let id: Id = ack["id"].as_str().unwrap().parse().unwrap();
        let (status, _) = rows
            .get(&id)
            .unwrap_or_else(|| panic!("acknowledged sign-up {id} is missing"));
        assert_eq!(status, ack["status"].as_str().unwrap(), "{id}");
    }
    // Nothing half-written: the counters match the rows, no overbooking, the line is 1..n.
    let confirmed = rows.values().filter(|(s, _)| s == "confirmed").count();
    let mut positions: Vec<i32> = rows
        .values()
        .filter(|(s, _)| s == "waitlisted")
        .filter_map(|(_, p)| *p)
        .collect();
    positions.sort();
    assert!(
        confirmed <= CAPACITY as usize,
        "{confirmed} confirmed for {CAPACITY} seats"
    );
    assert_eq!(positions, (1..=positions.len() as i32).collect::<Vec<_>>());
    let (taken, waitlisted): (i32, i32) = events::table
        .filter(events::id.eq(event))
        .select((events::taken, events::waitlisted))
        .first(conn)
        .unwrap();
    assert_eq!(
        (taken as usize, waitlisted as usize),
        (confirmed, positions.len())
    );
    // And the restarted server keeps taking sign-ups where it stopped.
    let late: Vec<&String> = tokens.iter().rev().take(3).collect();
    for token in late {
        let res = client
            .post(&url)
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send_json(&json!({}))
            .await
            .unwrap();
        assert!(
            matches!(res.status().as_u16(), 201 | 409),
            "{}",
            res.status()
        );
    }
    let _ = server.kill();
    let _ = server.wait();
}

both_backends!(a_killed_server_keeps_every_acknowledged_sign_up);
