//! The release-shaped binary: start-up, refusal of bad settings, graceful shutdown.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary with a clean environment: no TOMONI_* from the caller, JSON-free readable logs.
fn tomoni(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tomoni"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TOMONI") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir).env("TOMONI__LOG__FORMAT", "pretty");
    cmd
}

fn files_in(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn mistyped_postgres_url_fails_with_the_driver_error_and_creates_no_file() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there.
    let out = tomoni(dir.path())
        .env(
            "TOMONI__DATABASE__URL",
            "postgres://postgres@127.0.0.1:1/tomoni_dev",
        )
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot connect to PostgreSQL database"),
        "{stderr}"
    );
    assert!(
        stderr.contains("Connection refused"),
        "the driver's own words: {stderr}"
    );
    assert!(
        files_in(dir.path()).is_empty(),
        "nothing created: {:?}",
        files_in(dir.path())
    );
}

#[test]
fn unknown_url_scheme_is_refused_without_creating_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = tomoni(dir.path())
        .env("TOMONI__DATABASE__URL", "postgress://localhost/x")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("unsupported database URL"), "{stderr}");
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}

#[test]
fn production_refuses_unsafe_settings_and_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = tomoni(dir.path())
        .env("TOMONI_ENV", "production")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("jwt.secret is not set"), "{stderr}");
    assert!(stderr.contains("delivers nowhere"), "{stderr}");
    assert!(
        files_in(dir.path()).is_empty(),
        "refused before touching anything"
    );
}

#[test]
fn secrets_are_read_from_files_in_production() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("jwt");
    std::fs::write(&secret, "0123456789abcdef0123456789abcdef\n").unwrap();
    let out = tomoni(dir.path())
        .env("TOMONI_ENV", "production")
        .env("TOMONI__JWT__SECRET_FILE", &secret)
        .env("TOMONI__MAIL__TRANSPORT", "smtp")
        .env("TOMONI__MAIL__SMTP__HOST", "127.0.0.1")
        .env("TOMONI__LOG__FORMAT", "auto")
        .arg("migrate")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains("0123456789abcdef"),
        "the secret is never printed"
    );
    assert!(
        stderr.contains("\"level\":\"INFO\""),
        "production logs are JSON: {stderr}"
    );
}

#[test]
fn migrate_creates_the_sqlite_database() {
    let dir = tempfile::tempdir().unwrap();
    let out = tomoni(dir.path()).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("data/tomoni.db").exists());
    // Idempotent.
    let out = tomoni(dir.path()).arg("migrate").output().unwrap();
    assert!(out.status.success());
}

/// Serves with no set-up at all, answers, and stops cleanly on SIGTERM.
#[actix_web::test]
async fn serves_out_of_the_box_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = tomoni(dir.path())
        .env("TOMONI__SERVER__PORT", "0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut addr = None;
    while addr.is_none() {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("start-up log line");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            addr = rest.split_whitespace().next().map(str::to_owned);
        }
    }
    let addr = addr.unwrap();
    let client = awc::Client::default();
    let res = client
        .get(format!("http://{addr}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let res = client
        .get(format!("http://{addr}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "graceful exit: {exit:?}");
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
}
