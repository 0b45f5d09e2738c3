//! A small HTTP load generator for `bench/load.sh`: a fixed number of keep-alive connections,
//! each sending its next request as soon as the last one is answered (closed loop), for a fixed
//! time or until its work list runs out. Prints one JSON line: throughput, latency percentiles
//! and the count of each status.
//!
//! Why not an off-the-shelf tool: a sign-up needs a different employee (token) per request, and
//! tokens are minted here with tomoni's own key code instead of 60,000 argon2-bound logins.
//!
//!   cargo run --release --example loadgen -- signup --base http://127.0.0.1:18090 \
//!       --secret "$SECRET" --pairs pairs.txt --connections 32 --seconds 10
//!   ... get   --path '/api/v1/events?limit=50' --token "$TOKEN"
//!   ... login --logins logins.txt               (lines: email password)
//!
//! Loopback only by intent: the base URL comes from the bench script.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use tomoni::auth::Role;
use tomoni::auth::tokens::TokenKeys;
use tomoni::config::Secret;
use tomoni::db::Id;

#[derive(Parser)]
struct Args {
    #[command(subcommand)]
    what: What,
    /// Base URL of the server, e.g. http://127.0.0.1:18090.
    #[arg(long, global = true, default_value = "http://127.0.0.1:18090")]
    base: String,
    #[arg(long, global = true, default_value_t = 32)]
    connections: usize,
    /// Measured time; the run also stops when the work list is used up.
    #[arg(long, global = true, default_value_t = 10.0)]
    seconds: f64,
    /// Unmeasured time before it, to fill pools and caches.
    #[arg(long, global = true, default_value_t = 1.0)]
    warmup: f64,
}

#[derive(Subcommand)]
enum What {
    /// POST /api/v1/events/{event}/signups, one line of `--pairs` (employee-id event-id) each.
    Signup {
        #[arg(long)]
        pairs: std::path::PathBuf,
        /// The server's JWT secret (the bench script sets it).
        #[arg(long, env = "LOADGEN_SECRET")]
        secret: String,
        /// The server's database: each employee gets a sign-in there before the run, as a
        /// login would make (access tokens name one, and the server checks it holds).
        #[arg(long)]
        database: String,
    },
    /// GET `--path` with a bearer token (or, for the web pages, a session cookie).
    Get {
        #[arg(long)]
        path: String,
        #[arg(long, env = "LOADGEN_TOKEN", default_value = "")]
        token: String,
        /// `name=value` of a web session cookie, sent instead of a token.
        #[arg(long, env = "LOADGEN_COOKIE")]
        cookie: Option<String>,
    },
    /// POST /api/v1/auth/login, cycling through `--logins` (email password per line).
    Login {
        #[arg(long)]
        logins: std::path::PathBuf,
    },
    /// No HTTP: password verifications per second on one thread with tomoni's argon2id
    /// parameters, the ceiling of a login (times the number of cores).
    Argon2,
}

/// Verifies one password for `seconds` on this thread and prints the rate.
fn argon2_rate(seconds: f64) -> anyhow::Result<()> {
    use tomoni::auth::password;
    let stored = password::hash("bench-password-123")?;
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed().as_secs_f64() < seconds {
        anyhow::ensure!(password::verify("bench-password-123", &stored));
        n += 1;
    }
    let per_sec = n as f64 / started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"verifications": n, "per_second_one_thread": (per_sec * 10.0).round() / 10.0})
    );
    Ok(())
}

/// One request to send: method, path, bearer token, JSON body.
struct Job {
    post: bool,
    path: String,
    token: Option<String>,
    cookie: Option<String>,
    body: Option<String>,
}

type Source = Box<dyn FnMut() -> Option<Job>>;

fn source(what: What) -> anyhow::Result<Source> {
    Ok(match what {
        What::Signup {
            pairs,
            secret,
            database,
        } => {
            let mut settings = tomoni::Settings::defaults()?;
            let keys = TokenKeys::new(&Secret::new(secret), &settings.jwt);
            let text = std::fs::read_to_string(pairs)?;
            let mut lines: Vec<(Id, String)> = Vec::new();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let (user, event) = line
                    .split_once(' ')
                    .ok_or_else(|| anyhow::anyhow!("pairs line {line:?}"))?;
                lines.push((user.trim().parse()?, event.trim().to_owned()));
            }
            // One sign-in per employee, made before the clock starts.
            settings.database.url = database;
            let mut conn = tomoni::db::connect(&settings.database)?;
            let mut sign_ins: BTreeMap<Id, Id> = BTreeMap::new();
            for (user, _) in &lines {
                if !sign_ins.contains_key(user) {
                    let sign_in = Id::new();
                    tomoni::auth::refresh::issue(&mut conn, *user, sign_in, 86_400)?;
                    sign_ins.insert(*user, sign_in);
                }
            }
            drop(conn);
            // Tokens are minted on first use; the expensive part (HMAC) is outside the timing.
            let mut tokens: BTreeMap<Id, String> = BTreeMap::new();
            let mut next = 0;
            Box::new(move || {
                let (user, event) = lines.get(next)?;
                next += 1;
                let token = match tokens.get(user) {
                    Some(t) => t.clone(),
                    None => {
                        let t = keys
                            .issue(*user, Role::Employee, *sign_ins.get(user)?)
                            .ok()?;
                        tokens.insert(*user, t.clone());
                        t
                    }
                };
                Some(Job {
                    post: true,
                    path: format!("/api/v1/events/{event}/signups"),
                    token: Some(token),
                    cookie: None,
                    body: Some("{}".into()),
                })
            })
        }
        What::Get {
            path,
            token,
            cookie,
        } => Box::new(move || {
            Some(Job {
                post: false,
                path: path.clone(),
                token: (!token.is_empty()).then(|| token.clone()),
                cookie: cookie.clone(),
                body: None,
            })
        }),
        What::Argon2 => anyhow::bail!("argon2 sends no requests"),
        What::Login { logins } => {
            let text = std::fs::read_to_string(logins)?;
            let bodies: Vec<String> = text
                .lines()
                .filter_map(|l| l.split_once(' '))
                .map(|(email, password)| {
                    serde_json::json!({"email": email, "password": password}).to_string()
                })
                .collect();
            anyhow::ensure!(!bodies.is_empty(), "no logins");
            let mut next = 0;
            Box::new(move || {
                next += 1;
                Some(Job {
                    post: true,
                    path: "/api/v1/auth/login".into(),
                    token: None,
                    cookie: None,
                    body: Some(bodies[next % bodies.len()].clone()),
                })
            })
        }
    })
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    statuses: BTreeMap<String, u64>,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0
}

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let What::Argon2 = args.what {
        return argon2_rate(args.seconds);
    }
    let source = Rc::new(RefCell::new(source(args.what)?));
    let tally = Rc::new(RefCell::new(Tally::default()));
    let started = Instant::now();
    let measure_from = started + Duration::from_secs_f64(args.warmup);
    let stop_at = measure_from + Duration::from_secs_f64(args.seconds);
    let ended = Rc::new(Cell::new(None::<Instant>));
    let workers: Vec<_> = (0..args.connections)
        .map(|_| {
            let (source, tally, base, ended) = (
                source.clone(),
                tally.clone(),
                args.base.clone(),
                ended.clone(),
            );
            actix_web::rt::spawn(async move {
                // One connection per worker: what 32 connections means.
                let client = awc::Client::builder()
                    .connector(awc::Connector::new().limit(1))
                    .timeout(Duration::from_secs(30))
                    .finish();
                loop {
                    let now = Instant::now();
                    if now >= stop_at {
                        break;
                    }
                    let Some(job) = source.borrow_mut()() else {
                        ended.set(Some(ended.get().map_or(now, |e: Instant| e.min(now))));
                        break;
                    };
                    let url = format!("{base}{}", job.path);
                    let mut req = if job.post {
                        client.post(url)
                    } else {
                        client.get(url)
                    };
                    if let Some(token) = &job.token {
                        req = req.insert_header(("Authorization", format!("Bearer {token}")));
                    }
                    if let Some(cookie) = &job.cookie {
                        req = req.insert_header(("Cookie", cookie.clone()));
                    }
                    let sent = Instant::now();
                    let result = match job.body {
                        Some(body) => {
                            req.insert_header(("Content-Type", "application/json"))
                                .send_body(body)
                                .await
                        }
                        None => req.send().await,
                    };
                    let status = match result {
                        Ok(mut res) => {
                            // The whole body counts: a list page is only served when sent.
                            let body = res.body().limit(64 * 1024 * 1024).await;
                            match body {
                                Ok(_) => res.status().as_u16().to_string(),
                                Err(_) => "body-error".to_owned(),
                            }
                        }
                        Err(e) => format!("error: {e}"),
                    };
                    let took = sent.elapsed();
                    if sent >= measure_from && sent < stop_at {
                        let mut t = tally.borrow_mut();
                        t.latencies_us.push(took.as_micros() as u64);
                        *t.statuses.entry(status).or_default() += 1;
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.await?;
    }
    let end = ended.get().unwrap_or(stop_at).min(stop_at);
    let measured = end.saturating_duration_since(measure_from).as_secs_f64();
    let mut t = tally.take();
    t.latencies_us.sort_unstable();
    let n = t.latencies_us.len();
    let out = serde_json::json!({
        "requests": n,
        "seconds": (measured * 1000.0).round() / 1000.0,
        "rps": if measured > 0.0 { (n as f64 / measured).round() } else { 0.0 },
        "p50_ms": percentile(&t.latencies_us, 50.0),
        "p90_ms": percentile(&t.latencies_us, 90.0),
        "p99_ms": percentile(&t.latencies_us, 99.0),
        "max_ms": percentile(&t.latencies_us, 100.0),
        "statuses": t.statuses,
    });
    println!("{out}");
    Ok(())
}
