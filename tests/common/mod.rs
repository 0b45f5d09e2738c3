//! Test harness: the real app (same `AppState` and `build_server` as production) on a free port,
//! over a fresh database.
//!
//! SQLite: a new file in a temporary folder per test. PostgreSQL (when `TOMONI_TEST_POSTGRES_URL`
//! is set, e.g. `postgres://postgres@127.0.0.1:5432/postgres`): one template database per schema
//! version, migrated once and cloned with `CREATE DATABASE ... TEMPLATE` per test, dropped when
//! the test ends.
#![allow(dead_code)]

pub mod chrome;
pub mod oidc;
pub mod proxy;
pub mod rsa_key;
pub mod smtp;
pub mod web;

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use actix_web::dev::ServerHandle;
use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, RunQueryDsl};
use tomoni::auth::Role;
use tomoni::auth::tokens::TokenKeys;
use tomoni::config::Secret;
use tomoni::people::users;
use tomoni::{AppState, Settings, db};

/// Which database a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres { admin_url: String },
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres { .. } => "postgres",
        }
    }
}

/// The PostgreSQL backend when configured. With `TOMONI_TEST_REQUIRE_POSTGRES=1` (set by
/// `.ci/run`) a missing URL fails the test instead of skipping it, so CI cannot silently run on
/// SQLite alone.
pub fn postgres() -> Option<Backend> {
    match std::env::var("TOMONI_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(Backend::Postgres { admin_url: url }),
        _ => {
            assert!(
                std::env::var("TOMONI_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "TOMONI_TEST_REQUIRE_POSTGRES=1 but TOMONI_TEST_POSTGRES_URL is not set"
            );
            eprintln!("TOMONI_TEST_POSTGRES_URL not set: PostgreSQL variant not run");
            None
        }
    }
}

/// Declares `name::sqlite` and `name::postgres` tests for each `async fn name(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    super::$name($crate::common::Backend::Sqlite).await
                }
                #[actix_web::test]
                async fn postgres() {
                    if let Some(backend) = $crate::common::postgres() {
                        super::$name(backend).await
                    }
                }
            }
        )*
    };
}

/// The PgBouncer (transaction mode) the apps under test connect through, when
/// `TOMONI_TEST_PGBOUNCER_URL` is set (`.ci/pgbouncer.sh up`; `.ci/run` runs the sign-up and mail
/// suites so). The harness itself still creates and drops databases directly.
fn pooler_url() -> Option<String> {
    std::env::var("TOMONI_TEST_PGBOUNCER_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A database made for one test, removed when dropped.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    /// The apps reach this database through a transaction pooler.
    pub pooled: bool,
    dir: tempfile::TempDir,
    pg_name: Option<String>,
}

impl TestDb {
    pub fn new(backend: &Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("tomoni.db").display());
                TestDb {
                    url,
                    backend: backend.clone(),
                    pooled: false,
                    dir,
                    pg_name: None,
                }
            }
            Backend::Postgres { admin_url } => {
                let template = postgres_template(admin_url);
                let name = format!("tomoni_test_{}", uuid::Uuid::now_v7().simple());
                let mut admin = PgConnection::establish(admin_url)
                    .expect("connect to TOMONI_TEST_POSTGRES_URL");
                admin
                    .batch_execute(&format!(
                        "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                    ))
                    .expect("clone template database");
                let pooler = pooler_url();
                let url = database_url(pooler.as_deref().unwrap_or(admin_url), &name);
                TestDb {
                    url,
                    backend: backend.clone(),
                    pooled: pooler.is_some(),
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// The same database for a second instance of tomoni (its own data folder; dropping it
    /// leaves the database to this one).
    pub fn another_instance(&self) -> TestDb {
        TestDb {
            url: self.url.clone(),
            backend: self.backend.clone(),
            pooled: self.pooled,
            dir: tempfile::tempdir().expect("temp dir"),
            pg_name: None,
        }
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Settings for an app on this database: production defaults with test-sized pools.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::defaults().expect("default settings");
        s.database.url = self.url.clone();
        // Mail delivery only where a test asks for it (it would race tests reading the outbox).
        s.mail.worker_enabled = false;
        s.database.pool_max_size = 8;
        s.database.connect_timeout_secs = 2;
        // What the operator sets behind PgBouncer in transaction mode (config/default.toml).
        s.database.prepared_statements = !self.pooled;
        s.data.dir = self.dir.path().to_path_buf();
        s.server.host = "127.0.0.1".into();
        s.server.port = 0;
        s.server.workers = 2;
        s.server.shutdown_timeout_secs = 1;
        s.jwt.secret = Secret::new("test-secret-test-secret-test-secret-0123");
        s
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let (Some(name), Backend::Postgres { admin_url }) = (&self.pg_name, &self.backend)
            && let Ok(mut admin) = PgConnection::establish(admin_url)
        {
            let _ =
                admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"));
        }
    }
}

/// `admin_url` with its database replaced by `name`.
pub fn database_url(admin_url: &str, name: &str) -> String {
    let mut url = url::Url::parse(admin_url).expect("TOMONI_TEST_POSTGRES_URL is a URL");
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The migrated template for this schema version, created once (across test processes: the
/// advisory lock serialises them).
fn postgres_template(admin_url: &str) -> String {
    static TEMPLATE: OnceLock<String> = OnceLock::new();
    TEMPLATE
        .get_or_init(|| {
            let name = format!("tomoni_tpl_{:016x}", migrations_hash());
            let mut admin =
                PgConnection::establish(admin_url).expect("connect to TOMONI_TEST_POSTGRES_URL");
            admin
                .batch_execute("SELECT pg_advisory_lock(720431)")
                .expect("advisory lock");
            let exists: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
                &format!("EXISTS (SELECT 1 FROM pg_database WHERE datname = '{name}')"),
            ))
            .get_result(&mut admin)
            .expect("look up template");
            if !exists {
                let building = format!("{name}_building");
                admin
                    .batch_execute(&format!(
                        "DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"
                    ))
                    .expect("drop a half-built template");
                admin
                    .batch_execute(&format!("CREATE DATABASE \"{building}\""))
                    .expect("create template");
                {
                    let mut conn = db::AnyConnection::Postgresql(
                        PgConnection::establish(&database_url(admin_url, &building))
                            .expect("connect template"),
                    );
                    db::run_migrations(&mut conn).expect("migrate template");
                }
                // Renamed only when complete, so a crash never leaves a half-migrated template.
                admin
                    .batch_execute(&format!(
                        "ALTER DATABASE \"{building}\" RENAME TO \"{name}\""
                    ))
                    .expect("publish template");
            }
            admin
                .batch_execute("SELECT pg_advisory_unlock(720431)")
                .expect("advisory unlock");
            name
        })
        .clone()
}

/// Changes whenever a PostgreSQL migration changes, so a stale template is never reused.
fn migrations_hash() -> u64 {
    let mut files: Vec<PathBuf> = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    for entry in std::fs::read_dir(&root).expect("migrations/postgres") {
        let dir = entry.expect("dir entry").path();
        for file in std::fs::read_dir(&dir).expect("migration dir") {
            files.push(file.expect("file").path());
        }
    }
    files.sort();
    let mut hasher = DefaultHasher::new();
    for file in files {
        file.strip_prefix(&root).unwrap_or(&file).hash(&mut hasher);
        std::fs::read(&file)
            .expect("read migration")
            .hash(&mut hasher);
    }
    hasher.finish()
}

/// A running tomoni on a free port.
pub struct TestApp {
    pub addr: SocketAddr,
    pub pool: db::Pool,
    pub settings: Settings,
    handle: ServerHandle,
    // Dropped last: the server stops before its database disappears.
    pub db: TestDb,
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        let db = TestDb::new(&backend);
        let settings = db.settings();
        Self::spawn_with(db, settings).await
    }

    /// Starts the app on `db` with adjusted settings.
    pub async fn spawn_with(db: TestDb, mut settings: Settings) -> TestApp {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let addr = listener.local_addr().expect("local addr");
        if settings.server.public_url.is_empty() {
            // Links in mails and feed URLs point at this very server.
            settings.server.public_url = format!("http://{addr}");
        }
        let state = AppState::init(settings.clone()).expect("app state");
        let pool = state.pool.clone();
        let server = tomoni::server::build_server(state, listener).expect("build server");
        let handle = server.handle();
        actix_web::rt::spawn(server);
        TestApp {
            addr,
            pool,
            settings,
            handle,
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub fn client(&self) -> awc::Client {
        awc::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .finish()
    }

    pub fn conn(&self) -> db::PooledConnection {
        self.pool.get().expect("database connection")
    }

    /// GET and parse JSON; returns status, content type and body.
    pub async fn get_json(&self, path: &str) -> (u16, String, serde_json::Value) {
        let mut res = self
            .client()
            .get(self.url(path))
            .send()
            .await
            .expect("request");
        read_json(&mut res).await
    }
}

/// A user made for a test, with the password they sign in with.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: db::Id,
    pub email: String,
    pub password: String,
    pub role: Role,
}

impl TestApp {
    /// Creates a user straight in the database (no API involved).
    pub fn user(&self, role: Role, site: Option<db::Id>) -> TestUser {
        let n = uuid::Uuid::now_v7().simple().to_string();
        let email = format!("{}.{}@example.com", role.as_str(), &n[20..]);
        let password = format!("pw-{n}");
        let id = users::create(
            &mut self.conn(),
            &users::NewUser {
                employee_number: format!("E{n}"),
                email: email.clone(),
                display_name: format!("{role} {}", &n[24..]),
                site_id: site,
                role,
                locale: "en".into(),
                password: Some(password.clone()),
            },
        )
        .expect("create test user");
        TestUser {
            id,
            email,
            password,
            role,
        }
    }

    /// `n` employees without passwords (no argon2 cost), for load and concurrency tests.
    pub fn employees(&self, n: usize, site: Option<db::Id>) -> Vec<TestUser> {
        let conn = &mut self.conn();
        (0..n)
            .map(|i| {
                let tag = uuid::Uuid::now_v7().simple().to_string();
                let email = format!("emp{i}.{}@example.com", &tag[20..]);
                let id = users::create(
                    conn,
                    &users::NewUser {
                        employee_number: format!("B{tag}"),
                        email: email.clone(),
                        display_name: format!("Employee {i}"),
                        site_id: site,
                        role: Role::Employee,
                        locale: "en".into(),
                        password: None,
                    },
                )
                .expect("create employee");
                TestUser {
                    id,
                    email,
                    password: String::new(),
                    role: Role::Employee,
                }
            })
            .collect()
    }

    /// A site (and its company, created on first use).
    pub fn site(&self, code: &str) -> db::Id {
        use diesel::prelude::*;
        use tomoni::db::schema::{companies, sites};
        let conn = &mut self.conn();
        let now = db::Timestamp::now();
        let company: Option<db::Id> = companies::table
            .filter(companies::code.eq("TST"))
            .select(companies::id)
            .first(conn)
            .optional()
            .unwrap();
        let company = company.unwrap_or_else(|| {
            let id = db::Id::new();
            diesel::insert_into(companies::table)
                .values((
                    companies::id.eq(id),
                    companies::code.eq("TST"),
                    companies::name.eq("Test Group"),
                    companies::country.eq("JP"),
                    companies::created_at.eq(now),
                    companies::updated_at.eq(now),
                ))
                .execute(conn)
                .unwrap();
            id
        });
        let id = db::Id::new();
        diesel::insert_into(sites::table)
            .values((
                sites::id.eq(id),
                sites::code.eq(code),
                sites::name.eq(format!("Site {code}")),
                sites::company_id.eq(company),
                sites::country.eq("JP"),
                sites::region.eq("domestic"),
                sites::timezone.eq("Asia/Tokyo"),
                sites::opened_on.eq(chrono::NaiveDate::from_ymd_opt(2000, 4, 1).unwrap()),
                sites::created_at.eq(now),
                sites::updated_at.eq(now),
            ))
            .execute(conn)
            .unwrap();
        id
    }

    /// A coordinator of `sites` (home site: the first).
    pub fn coordinator(&self, sites: &[db::Id]) -> TestUser {
        use diesel::prelude::*;
        use tomoni::db::schema::coordinator_sites;
        let user = self.user(Role::Coordinator, sites.first().copied());
        for site in sites {
            diesel::insert_into(coordinator_sites::table)
                .values((
                    coordinator_sites::user_id.eq(user.id),
                    coordinator_sites::site_id.eq(*site),
                    coordinator_sites::created_at.eq(db::Timestamp::now()),
                ))
                .execute(&mut self.conn())
                .unwrap();
        }
        user
    }

    /// Sends `method path` with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (u16, String, serde_json::Value) {
        self.call_with(method, path, token, body, &[]).await
    }

    /// [`TestApp::call`] with more request headers.
    pub async fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> (u16, String, serde_json::Value) {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.client().request(method, self.url(path));
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        let mut res = match body {
            Some(body) => req.send_json(&body).await,
            None => req.send().await,
        }
        .expect("request");
        read_json(&mut res).await
    }

    /// A programme at `site`, made through the API by `token` (the site's coordinator or an
    /// admin): code BEACH, "Beach clean-up", theme nature, unless `fields` says otherwise.
    /// Returns its id.
    pub async fn program(&self, token: &str, site: db::Id, fields: serde_json::Value) -> String {
        let mut body = serde_json::json!({"site_id": site.to_string(), "code": "BEACH",
            "title": "Beach clean-up", "theme": "nature"});
        merge(&mut body, fields);
        let (status, _, program) = self
            .call("POST", "/api/v1/programs", Some(token), Some(body))
            .await;
        assert_eq!(status, 201, "create programme: {program}");
        program["id"].as_str().expect("programme id").to_owned()
    }

    /// An event of `program` from `start`, `hours` long, made through the API by `token` and
    /// published; `fields` adds to the body (capacity, waitlist_enabled, timezone, location...).
    /// Returns its id.
    pub async fn published_event(
        &self,
        token: &str,
        program: &str,
        start: chrono::DateTime<chrono::Utc>,
        hours: i64,
        fields: serde_json::Value,
    ) -> String {
        let rfc = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let mut body = serde_json::json!({"program_id": program, "starts_at": rfc(start),
            "ends_at": rfc(start + chrono::Duration::hours(hours))});
        merge(&mut body, fields);
        let (status, _, ev) = self
            .call("POST", "/api/v1/events", Some(token), Some(body))
            .await;
        assert_eq!(status, 201, "create event: {ev}");
        let id = ev["id"].as_str().expect("event id").to_owned();
        let (status, _, published) = self
            .call(
                "POST",
                &format!("/api/v1/events/{id}/publish"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "publish event: {published}");
        id
    }

    /// Signs `user` up for `event` through the API; asserts 201 and returns the sign-up.
    pub async fn sign_up(&self, user: &TestUser, event: &str) -> serde_json::Value {
        let (status, _, body) = self
            .call(
                "POST",
                &format!("/api/v1/events/{event}/signups"),
                Some(&self.token(user)),
                Some(serde_json::json!({})),
            )
            .await;
        assert_eq!(status, 201, "sign up: {body}");
        body
    }

    /// Cancels `user`'s sign-up `signup` through the API; asserts 200.
    pub async fn cancel(&self, user: &TestUser, signup: &str) {
        let (status, _, body) = self
            .call(
                "DELETE",
                &format!("/api/v1/signups/{signup}"),
                Some(&self.token(user)),
                None,
            )
            .await;
        assert_eq!(status, 200, "cancel: {body}");
    }

    /// An access token for `user`, minted with the app's own key (skips the password check).
    pub fn token(&self, user: &TestUser) -> String {
        // A sign-in of its own, as a login makes: access tokens name theirs.
        let sign_in = db::Id::new();
        tomoni::auth::refresh::issue(&mut self.conn(), user.id, sign_in, 3600).expect("sign in");
        let keys = TokenKeys::new(&self.settings.jwt.secret, &self.settings.jwt);
        keys.issue(user.id, user.role, sign_in)
            .expect("issue token")
    }

    /// GET with a bearer token: status, content type and the bytes.
    pub async fn get_bytes(&self, token: &str, path: &str) -> (u16, String, Vec<u8>) {
        let mut res = self
            .client()
            .get(self.url(path))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .expect("request");
        let ct = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = res.body().limit(64 << 20).await.expect("body");
        (res.status().as_u16(), ct, body.to_vec())
    }

    /// The participation history `csv` imported through the API as `token`; asserts 200.
    pub async fn import_participations(&self, token: &str, csv: String) {
        let mut res = self
            .client()
            .post(self.url("/api/v1/imports/participations"))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("content-type", "text/csv"))
            .send_body(csv)
            .await
            .expect("import");
        let (status, _, body) = read_json(&mut res).await;
        assert_eq!(status, 200, "participation import: {body}");
    }

    /// Imports, as `hr`, one approved record of 3 hours for each of `people` at site `site`
    /// (its code) on `date`, in programme `program` (nature; `categories` as the CSV writes
    /// them, `;`-separated).
    pub async fn past_records(
        &self,
        hr: &TestUser,
        site: &str,
        program: &str,
        categories: &str,
        date: chrono::NaiveDate,
        people: &[TestUser],
    ) {
        let mut csv = String::from(
            "site_code,program_code,program_title,theme,categories,event_date,employee_number,hours\n",
        );
        for p in people {
            let n = self.employee_number(p);
            csv.push_str(&format!(
                "{site},{program},{program},nature,{categories},{date},{n},3\n"
            ));
        }
        self.import_participations(&self.token(hr), csv).await;
    }

    /// Closes fiscal year `fy` through the API as `by` (HR or an admin); asserts 200.
    pub async fn close_year(&self, by: &TestUser, fy: i32) {
        let (status, _, body) = self
            .call(
                "POST",
                &format!("/api/v1/stats/years/{fy}/close"),
                Some(&self.token(by)),
                None,
            )
            .await;
        assert_eq!(status, 200, "close FY{fy}: {body}");
    }

    /// Rejects `user`'s (only) attendance record as `admin` through the API, giving
    /// `restatement` as the reason for changing a closed year; asserts 200.
    pub async fn reject_restating(&self, admin: &TestUser, user: &TestUser, restatement: &str) {
        use diesel::prelude::*;
        use tomoni::db::schema::attendance;
        let record: uuid::Uuid = attendance::table
            .filter(attendance::user_id.eq(user.id))
            .select(attendance::id)
            .first::<db::Id>(&mut self.conn())
            .expect("the record")
            .into();
        let (status, _, body) = self
            .call_with(
                "POST",
                &format!("/api/v1/attendance/{record}/reject"),
                Some(&self.token(admin)),
                Some(serde_json::json!({"reason": "not there"})),
                &[("Restatement-Reason", restatement)],
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// A user's employee number.
    pub fn employee_number(&self, user: &TestUser) -> String {
        use diesel::prelude::*;
        tomoni::db::schema::users::table
            .find(user.id)
            .select(tomoni::db::schema::users::employee_number)
            .first(&mut self.conn())
            .expect("the user's number")
    }

    /// POSTs JSON and returns status, content type and body.
    pub async fn post_json(
        &self,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, String, serde_json::Value) {
        let mut res = self
            .client()
            .post(self.url(path))
            .send_json(&body)
            .await
            .expect("request");
        read_json(&mut res).await
    }

    /// GET with a bearer token.
    pub async fn get_as(&self, token: &str, path: &str) -> (u16, String, serde_json::Value) {
        let mut res = self
            .client()
            .get(self.url(path))
            .insert_header(("Authorization", format!("Bearer {token}")))
            .send()
            .await
            .expect("request");
        read_json(&mut res).await
    }

    /// Signs in through the API; returns the token response.
    pub async fn login(&self, user: &TestUser) -> serde_json::Value {
        let got = self
            .post_json(
                "/api/v1/auth/login",
                serde_json::json!({"email": user.email, "password": user.password}),
            )
            .await;
        assert_eq!(got.0, 200, "login: {}", got.2);
        got.2
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command at once; workers wind down while the database is dropped.
        drop(self.handle.stop(false));
    }
}

/// A loopback port that was free a moment ago (for a server a test starts, or one that must be
/// missing).
/// The `tomoni` binary under test, with none of this process's `TOMONI*` or `RUST_LOG`
/// variables (a developer's or CI's settings must not leak into what a test configures).
pub fn binary() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tomoni"));
    for (key, _) in std::env::vars() {
        if key.starts_with("TOMONI") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs a shell command (a test cluster's stop or start) off the async runtime and insists
/// that it worked.
pub async fn shell(command: &str) {
    let owned = command.to_owned();
    let status = actix_web::web::block(move || {
        std::process::Command::new("sh")
            .args(["-c", &owned])
            .status()
    })
    .await
    .expect("blocking task")
    .expect("run shell command");
    assert!(status.success(), "{command}: {status}");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// `fields`' keys written over `body`'s (both JSON objects).
fn merge(body: &mut serde_json::Value, fields: serde_json::Value) {
    if let (Some(body), serde_json::Value::Object(fields)) = (body.as_object_mut(), fields) {
        body.extend(fields);
    }
}

/// Status, content type and JSON body of a response (Null when the body is not JSON).
pub async fn read_json<S>(res: &mut awc::ClientResponse<S>) -> (u16, String, serde_json::Value)
where
    S: futures_core::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + Unpin,
{
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = res
        .body()
        .limit(16 * 1024 * 1024)
        .await
        .expect("response body");
    let json = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, content_type, json)
}

/// Asserts a problem+json response with the given status and code, and returns the body.
/// An import's rejection report as (line, field, code), in the order given.
pub fn import_errors(problem: &serde_json::Value) -> Vec<(u64, String, String)> {
    let lines = problem["errors"].as_array().expect("errors[]");
    lines
        .iter()
        .map(|e| {
            let text = |k: &str| e[k].as_str().expect("text").to_owned();
            (
                e["line"].as_u64().expect("line"),
                text("field"),
                text("code"),
            )
        })
        .collect()
}

pub fn assert_problem(
    got: &(u16, String, serde_json::Value),
    status: u16,
    code: &str,
) -> serde_json::Value {
    let (s, ct, body) = got;
    assert_eq!(*s, status, "status; body: {body}");
    assert!(
        ct.starts_with("application/problem+json"),
        "content type {ct:?}; body: {body}"
    );
    assert_eq!(body["code"], code, "code; body: {body}");
    assert_eq!(body["status"], status, "status member; body: {body}");
    assert!(
        body["type"].as_str().is_some_and(|t| t.ends_with(code)),
        "type; body: {body}"
    );
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "title; body: {body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "detail; body: {body}"
    );
    body.clone()
}

/// The last fiscal year that has ended today (April years, named by the year they end in).
pub fn last_ended_year() -> i32 {
    use chrono::Datelike;
    let today = chrono::Utc::now().date_naive();
    today.year() + i32::from(today.month() >= 4) - 1
}

/// An administrator principal for calling services directly (setting up data through the
/// library); services check the principal like the API does.
pub fn admin_principal() -> tomoni::auth::Caller {
    tomoni::auth::Caller {
        id: tomoni::db::Id::new(),
        role: tomoni::auth::Role::Admin,
        site_id: None,
        sites: Vec::new(),
        restatement: None,
    }
}

/// The cells of an XLSX file's first sheet as text, row by row (panics on a file that is not
/// one: the test is then about a broken download).
pub fn xlsx_rows(bytes: &[u8]) -> Vec<Vec<String>> {
    use calamine::Reader;
    let mut book: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes.to_vec()))
            .expect("an XLSX file");
    let sheet = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&sheet).expect("the first sheet");
    range
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect()
}

/// One company, site (…0002) and programme (…0003) as plain PostgreSQL INSERTs, for the plan
/// tests that then write thousands of rows in SQL.
pub const ONE_PROGRAMME_SQL: &str = "
INSERT INTO companies VALUES ('00000000-0000-7000-8000-000000000001', 'G', 'Group', 'JP', now(), now());
INSERT INTO sites (id, code, name, company_id, country, region, timezone, opened_on, created_at, updated_at)
  VALUES ('00000000-0000-7000-8000-000000000002', 'S', 'Site', '00000000-0000-7000-8000-000000000001',
          'JP', 'domestic', 'Asia/Tokyo', '2000-01-01', now(), now());
INSERT INTO programs (id, site_id, code, title, theme, created_at, updated_at)
  VALUES ('00000000-0000-7000-8000-000000000003', '00000000-0000-7000-8000-000000000002', 'P', 'Programme',
          'nature', now(), now());
";
