//! Reads from a streaming replica (`database.read_url`): the statistics, exports and the
//! employees' event list come from it while it keeps up; writes and read-your-own-write paths
//! never do; when it lags beyond `database.read_max_lag_ms`, or is down, those reads go to the
//! primary and nothing fails.
//!
//! Needs a replica it may pause and stop: the private cluster of `.ci/pg-private.sh` as the
//! primary (`TOMONI_TEST_OUTAGE_POSTGRES_URL`) and its copy from `.ci/pg-replica.sh up`
//! (`TOMONI_TEST_REPLICA_URL`, `TOMONI_TEST_REPLICA_STOP`, `TOMONI_TEST_REPLICA_START`), which
//! `.ci/run` sets. Without them the test says so and passes, unless
//! `TOMONI_TEST_REQUIRE_REPLICA=1` (set by `.ci/run`).

mod common;

use std::time::{Duration, Instant};

use actix_web::rt::time::sleep;
use common::{Backend, TestApp, TestDb};
use diesel::prelude::*;
use diesel::sql_types::Bool;
use serde_json::{Value, json};
use tomoni::auth::Role;

struct Cluster {
    primary: String,
    replica: String,
    stop: String,
    start: String,
}

fn cluster() -> Option<Cluster> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        var("TOMONI_TEST_OUTAGE_POSTGRES_URL"),
        var("TOMONI_TEST_REPLICA_URL"),
        var("TOMONI_TEST_REPLICA_STOP"),
        var("TOMONI_TEST_REPLICA_START"),
    ) {
        (Some(primary), Some(replica), Some(stop), Some(start)) => Some(Cluster {
            primary,
            replica,
            stop,
            start,
        }),
        _ => {
            assert!(
                std::env::var("TOMONI_TEST_REQUIRE_REPLICA").as_deref() != Ok("1"),
                "TOMONI_TEST_REQUIRE_REPLICA=1 but the TOMONI_TEST_REPLICA_* variables are not set"
            );
            eprintln!("TOMONI_TEST_REPLICA_* not set: the read-replica test is not run");
            None
        }
    }
}

/// Reads that could use the replica so far, as (from the replica, from the primary).
async fn reads(app: &TestApp) -> (u64, u64) {
    let mut res = app.client().get(app.url("/metrics")).send().await.unwrap();
    let body = res.body().await.unwrap();
    let text = String::from_utf8_lossy(&body);
    let count = |from: &str| {
        text.lines()
            .filter(|l| {
                l.starts_with("tomoni_db_replica_eligible_reads_total")
                    && l.contains(&format!("from=\"{from}\""))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    };
    (count("replica"), count("primary"))
}

/// Whether the replica's copy of the test database holds `event` yet.
fn replica_has(replica_url: &str, event: &str) -> bool {
    let Ok(mut conn) = PgConnection::establish(replica_url) else {
        return false;
    };
    diesel::select(diesel::dsl::sql::<Bool>(&format!(
        "EXISTS (SELECT 1 FROM events WHERE id = '{event}')"
    )))
    .get_result(&mut conn)
    .unwrap_or(false)
}

/// Waits (bounded, polling) until `cond` holds.
async fn until(what: &str, limit: Duration, mut cond: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !cond().await {
        assert!(Instant::now() < deadline, "not within {limit:?}: {what}");
        sleep(Duration::from_millis(100)).await;
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["id"].as_str().expect("id").to_owned())
        .collect()
}

#[actix_web::test]
async fn reads_use_the_replica_while_it_keeps_up() {
    let Some(cluster) = cluster() else {
        return;
    };
    let db = TestDb::new(&Backend::Postgres {
        admin_url: cluster.primary.clone(),
    });
    let db_name = url::Url::parse(&db.url).unwrap().path()[1..].to_owned();
    let replica_url = common::database_url(&cluster.replica, &db_name);
    let mut settings = db.settings();
    settings.database.read_url = replica_url.clone();
    settings.database.read_max_lag_ms = 1000;
    // Both back again whatever happens below.
    struct Restart(String);
    impl Drop for Restart {
        fn drop(&mut self) {
            let _ = std::process::Command::new("sh")
                .args(["-c", &self.0])
                .status();
        }
    }
    let _restart = Restart(cluster.start.clone());
    let app = TestApp::spawn_with(db, settings).await;
    let site = app.site("S");
    let coordinator = app.coordinator(&[site]);
    let coord = app.token(&coordinator);
    let employee = app.user(Role::Employee, Some(site));
    let token = app.token(&employee);
    let hr = app.token(&app.user(Role::Hr, None));
    let program = app.program(&coord, site, json!({})).await;
    let week = chrono::Utc::now() + chrono::Duration::days(7);
    let first = app
        .published_event(&coord, &program, week, 2, json!({"capacity": 10}))
        .await;
    until(
        "the replica has the first event",
        Duration::from_secs(20),
        async || replica_has(&replica_url, &first),
    )
    .await;

    // In step: the employee's event list, the statistics and an export come from the replica.
    let before = reads(&app).await;
    let (status, _, page) = app.get_as(&token, "/api/v1/events").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(ids(&page), vec![first.clone()]);
    let (status, _, report) = app.get_as(&hr, "/api/v1/stats/mdd").await;
    assert_eq!(status, 200, "{report}");
    let (status, _, file) = app
        .get_bytes(&hr, "/api/v1/exports/participations?purpose=replica%20test")
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&file));
    let after = reads(&app).await;
    assert_eq!(after.0 - before.0, 3, "three reads from the replica");
    assert_eq!(after.1, before.1, "none from the primary");
    // The export's audit entry is a write: it is on the primary.
    let admin = app.token(&app.user(Role::Admin, None));
    let (_, _, audit) = app
        .get_as(&admin, "/api/v1/audit?action=export.participations")
        .await;
    assert_eq!(audit["items"].as_array().map(Vec::len), Some(1), "{audit}");
    // A coordinator's own list is never from the replica.
    let (status, _, _) = app.get_as(&coord, "/api/v1/events").await;
    assert_eq!(status, 200);
    assert_eq!(reads(&app).await, after);

    // Behind: replay paused, a new event published on the primary.
    let mut replica = PgConnection::establish(&replica_url).unwrap();
    diesel::sql_query("SELECT pg_wal_replay_pause()")
        .execute(&mut replica)
        .unwrap();
    let second = app
        .published_event(
            &coord,
            &program,
            week + chrono::Duration::days(1),
            2,
            json!({"capacity": 10}),
        )
        .await;
    // Writes and read-your-own-write: a sign-up and the employee's own list, from the primary.
    let signup = app.sign_up(&employee, &second).await;
    let (status, _, mine) = app.get_as(&token, "/api/v1/me/signups").await;
    assert_eq!(status, 200, "{mine}");
    assert!(mine.to_string().contains(signup["id"].as_str().unwrap()));
    // Within a second the lag passes the bound and the list comes from the primary, while the
    // replica still does not have the event.
    until(
        "the list shows the second event",
        Duration::from_secs(10),
        async || ids(&app.get_as(&token, "/api/v1/events").await.2).contains(&second),
    )
    .await;
    assert!(!replica_has(&replica_url, &second), "replay is paused");
    let lagging = reads(&app).await;
    assert!(lagging.1 > after.1, "the lagging replica was passed over");

    // Caught up again: back to the replica.
    diesel::sql_query("SELECT pg_wal_replay_resume()")
        .execute(&mut replica)
        .unwrap();
    drop(replica);
    until(
        "the replica has the second event",
        Duration::from_secs(20),
        async || replica_has(&replica_url, &second),
    )
    .await;
    until(
        "reads return to the replica",
        Duration::from_secs(10),
        async || {
            let before = reads(&app).await.0;
            app.get_as(&token, "/api/v1/events").await;
            reads(&app).await.0 > before
        },
    )
    .await;

    // Down: every read still answers, from the primary, without waiting on the replica.
    common::shell(&cluster.stop).await;
    let down = reads(&app).await;
    let started = Instant::now();
    for _ in 0..5 {
        let (status, _, page) = app.get_as(&token, "/api/v1/events").await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(ids(&page), vec![first.clone(), second.clone()]);
        let (status, _, report) = app.get_as(&hr, "/api/v1/stats/mdd").await;
        assert_eq!(status, 200, "{report}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "ten reads took {:?} with the replica down",
        started.elapsed()
    );
    let now = reads(&app).await;
    assert!(now.1 >= down.1 + 9, "from the primary: {down:?} -> {now:?}");

    // Back up: reads return to it.
    common::shell(&cluster.start).await;
    until(
        "reads return to the restarted replica",
        Duration::from_secs(30),
        async || {
            let before = reads(&app).await.0;
            app.get_as(&token, "/api/v1/events").await;
            reads(&app).await.0 > before
        },
    )
    .await;
}
