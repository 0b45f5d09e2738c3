//! The release-shaped binary: start-up, refusal of bad settings, graceful shutdown.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary with a clean environment: no TOMONI_* from the caller, JSON-free readable logs.
fn tomoni(dir: &std::path::Path) -> Command {
    let mut cmd = common::binary();
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
    assert!(stderr.contains("server.public_url is not set"), "{stderr}");
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
        .env(
            "TOMONI__SERVER__PUBLIC_URL",
            "https://volunteer.example.com",
        )
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

/// A running `tomoni serve` child with its log lines.
struct Served {
    /// `None` once stopped; a test that panics kills the server on drop.
    child: Option<std::process::Child>,
    addr: String,
    log: mpsc::Receiver<String>,
    seen: Vec<String>,
}

fn serve(dir: &std::path::Path) -> Served {
    let mut child = tomoni(dir)
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
    let mut seen = Vec::new();
    loop {
        let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no start-up line within 60 s: {seen:?}");
        };
        seen.push(line.clone());
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
            return Served {
                child: Some(child),
                addr,
                log: rx,
                seen,
            };
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Served {
    /// Stops with SIGTERM and returns whether it exited cleanly, with the remaining log.
    fn stop(mut self) -> (bool, Vec<String>) {
        let mut child = self.child.take().expect("running");
        let status = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let exit = child.wait().unwrap();
        let rest: Vec<String> = self.log.try_iter().collect();
        (exit.success(), rest)
    }
}

async fn login(addr: &str, email: &str, password: &str) -> u16 {
    awc::Client::default()
        .post(format!("http://{addr}/api/v1/auth/login"))
        .send_json(&serde_json::json!({"email": email, "password": password}))
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Serves with no set-up at all, creates the first administrator once (password in a private
/// file, not in the log),
/// answers, and stops cleanly on SIGTERM.
#[actix_web::test]
async fn serves_out_of_the_box_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let served = serve(dir.path());
    let addr = served.addr.clone();
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
    // The password is in a file only this account reads, which the log names; never in the log.
    let line = served
        .seen
        .iter()
        .find(|l| l.contains("created the first administrator admin@localhost"))
        .expect("bootstrap admin line");
    let file = dir
        .path()
        .join("data")
        .join(tomoni::state::FIRST_ADMIN_FILE);
    assert!(
        line.contains(&file.display().to_string())
            || line.contains("data/first-admin-password.txt"),
        "{line}"
    );
    let written = std::fs::read_to_string(&file).expect("password file");
    let bootstrap = written.lines().nth(1).expect("password line").to_owned();
    assert_eq!(written.lines().next(), Some("admin@localhost"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "readable only by its owner");
    }
    assert!(bootstrap.len() >= 16, "a long random password");
    assert!(
        !served.seen.iter().any(|l| l.contains(&bootstrap)),
        "the password is not in the log: {:?}",
        served.seen
    );
    assert_eq!(login(&addr, "admin@localhost", &bootstrap).await, 200);
    let (clean, rest) = served.stop();
    assert!(clean, "graceful exit");
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");

    // Second start: the administrator exists, no new password is printed.
    let again = serve(dir.path());
    assert!(
        !again.seen.iter().any(|l| l.contains("first administrator")),
        "{:?}",
        again.seen
    );
    assert_eq!(login(&again.addr, "admin@localhost", &bootstrap).await, 200);
    let (clean, _) = again.stop();
    assert!(clean);
}

/// Operators create users and reset passwords from the command line.
#[actix_web::test]
async fn user_commands_create_accounts_and_set_passwords() {
    let dir = tempfile::tempdir().unwrap();
    let out = tomoni(dir.path())
        .args([
            "user",
            "create",
            "--email",
            "Ops@Example.com",
            "--role",
            "hr",
            "--name",
            "Ops",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("created hr ops@example.com"), "{stdout}");
    let generated = stdout.split("password: ").nth(1).unwrap().trim().to_owned();
    assert_eq!(generated.len(), 20);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains(&generated),
        "not in the log"
    );

    let bad_role = tomoni(dir.path())
        .args([
            "user",
            "create",
            "--email",
            "x@example.com",
            "--role",
            "root",
        ])
        .output()
        .unwrap();
    assert!(!bad_role.status.success());
    assert!(String::from_utf8_lossy(&bad_role.stderr).contains("unknown role"));

    let mut child = tomoni(dir.path())
        .args([
            "user",
            "set-password",
            "--email",
            "ops@example.com",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a-brand-new-password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("a-brand-new-password"));

    let served = serve(dir.path());
    assert_eq!(
        login(&served.addr, "ops@example.com", "a-brand-new-password").await,
        200
    );
    assert_eq!(
        login(&served.addr, "ops@example.com", &generated).await,
        401
    );
    let (clean, _) = served.stop();
    assert!(clean);
}

/// `seed demo` prints one account per role with its password, once, on stdout (not in the log),
/// and each signs in on the seeded database.
#[actix_web::test]
async fn the_demo_seed_prints_an_account_per_role_that_signs_in() {
    let dir = tempfile::tempdir().unwrap();
    let out = tomoni(dir.path())
        .args(["seed", "demo", "--scale", "0.001", "--years", "1"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stderr}");
    let accounts: Vec<(String, String, String)> = stdout
        .lines()
        .filter(|l| l.contains("@demo.example"))
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            (
                parts[0].to_owned(),
                parts[1].to_owned(),
                parts[2].to_owned(),
            )
        })
        .collect();
    let roles: Vec<&str> = accounts.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(
        roles,
        ["employee", "coordinator", "hr", "admin"],
        "{stdout}"
    );
    for (_, _, password) in &accounts {
        assert!(!stderr.contains(password.as_str()), "never in the log");
    }
    let served = serve(dir.path());
    for (role, email, password) in &accounts {
        assert_eq!(login(&served.addr, email, password).await, 200, "{role}");
    }
    let (stopped, _) = served.stop();
    assert!(stopped);
}
