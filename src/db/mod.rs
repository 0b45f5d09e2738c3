//! The database layer: one connection type over SQLite and PostgreSQL, its pool, and migrations.
//!
//! Everything above this module takes `&mut AnyConnection`. The few statements that must differ
//! per backend `match` on the variant right where they are needed.

pub mod backup;
mod checkpoint;
pub mod idempotency;
pub mod literal;
pub mod pool;
pub mod replica;
pub mod schema;
pub mod types;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::prelude::*;
use diesel::r2d2;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::config::{DatabaseSettings, redact_url};

pub use types::{Id, Timestamp, now};

/// A connection to whichever database the service was configured with.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

pub use pool::{Pool, PooledConnection};

const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

diesel::define_sql_function! {
    /// SQL `lower(text)`, the same on both backends for the ASCII that codes and emails use.
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// A case-insensitive "contains" pattern for `lower(column).like(p).escape('\\')`, with the
/// user's `%`, `_` and `\` matched literally.
pub fn contains_pattern(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

/// Which backend a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        }
    }
}

impl AnyConnection {
    pub fn backend(&self) -> Backend {
        match self {
            AnyConnection::Postgresql(_) => Backend::Postgres,
            AnyConnection::Sqlite(_) => Backend::Sqlite,
        }
    }
}

/// Why the database could not be reached or prepared. Carries the driver's own message.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(
        "unsupported database URL {0:?}: use postgres://... or postgresql://..., or sqlite://PATH (a plain file path also means SQLite)"
    )]
    UnsupportedUrl(String),
    #[error("cannot connect to {backend} database: {source}")]
    Connect {
        backend: &'static str,
        #[source]
        source: diesel::ConnectionError,
    },
    #[error("cannot prepare the SQLite file {path}: {source}")]
    SqliteDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create PostgreSQL database {name:?}: {source}")]
    CreateDatabase {
        name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("database migration failed: {0}")]
    Migration(Box<dyn std::error::Error + Send + Sync>),
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    #[error("cannot build the connection pool: {0}")]
    Pool(#[from] r2d2::PoolError),
}

/// A parsed database URL. Keeps the original for PostgreSQL (libpq parses it) and the file path
/// for SQLite.
#[derive(Clone)]
pub struct DatabaseUrl {
    backend: Backend,
    target: String,
    prepared_statements: bool,
}

impl fmt::Debug for DatabaseUrl {
    /// Never prints a password that may sit in the URL.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.redacted())
    }
}

impl DatabaseUrl {
    /// Dispatches on the scheme. Anything with a scheme we do not know is an error rather than a
    /// SQLite file named after the URL (which diesel's own `establish` would quietly create).
    pub fn parse(url: &str, connect_timeout: Duration) -> Result<Self, DbError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl {
                backend: Backend::Postgres,
                target: with_connect_timeout(url, connect_timeout),
                prepared_statements: true,
            });
        }
        if let Some(rest) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if rest.is_empty() {
                return Err(DbError::UnsupportedUrl(url.to_owned()));
            }
            return Ok(DatabaseUrl {
                backend: Backend::Sqlite,
                target: rest.to_owned(),
                prepared_statements: true,
            });
        }
        if url.is_empty() || url.contains("://") || url.starts_with("postgres") {
            return Err(DbError::UnsupportedUrl(redact_url(url)));
        }
        Ok(DatabaseUrl {
            backend: Backend::Sqlite,
            target: url.to_owned(),
            prepared_statements: true,
        })
    }

    /// The URL and the connection options of `settings`.
    pub fn from_settings(settings: &DatabaseSettings) -> Result<Self, DbError> {
        let mut url = Self::parse(&settings.url, settings.connect_timeout())?;
        url.prepared_statements = settings.prepared_statements;
        Ok(url)
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The URL with any password replaced, for logs and error messages.
    pub fn redacted(&self) -> String {
        match self.backend {
            Backend::Postgres => redact_url(&self.target),
            Backend::Sqlite => format!("sqlite://{}", self.target),
        }
    }

    fn establish(&self) -> Result<AnyConnection, DbError> {
        match self.backend {
            Backend::Postgres => {
                let mut conn = diesel::PgConnection::establish(&self.target).map_err(|source| {
                    DbError::Connect {
                        backend: "PostgreSQL",
                        source,
                    }
                })?;
                if !self.prepared_statements {
                    // Diesel then sends each statement with its parameters in one message
                    // (unnamed), which a transaction pooler passes through intact.
                    conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
                }
                Ok(AnyConnection::Postgresql(conn))
            }
            Backend::Sqlite => {
                let mut conn =
                    diesel::SqliteConnection::establish(&self.target).map_err(|source| {
                        DbError::Connect {
                            backend: "SQLite",
                            source,
                        }
                    })?;
                // Per-connection settings: SQLite forgets them when the connection closes.
                conn.batch_execute(
                    &format!(
                        "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; PRAGMA synchronous = NORMAL;",
                        SQLITE_BUSY_TIMEOUT.as_millis()
                    ),
                )
                .map_err(|e| DbError::Connect {
                    backend: "SQLite",
                    source: diesel::ConnectionError::CouldntSetupConfiguration(e),
                })?;
                Ok(AnyConnection::Sqlite(conn))
            }
        }
    }
}

fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    if url.contains("connect_timeout=") {
        return url.to_owned();
    }
    let secs = timeout.as_secs().max(1);
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}connect_timeout={secs}")
}

/// Connects, creates the PostgreSQL database if asked to, runs migrations if asked to, and
/// returns the pool. Fails with the driver's own message.
pub fn init(settings: &DatabaseSettings) -> Result<Pool, DbError> {
    let url = DatabaseUrl::from_settings(settings)?;
    tracing::info!(database = %url.redacted(), backend = url.backend().name(), "opening database");
    let mut conn = match url.backend() {
        Backend::Sqlite => {
            ensure_parent_dir(Path::new(&url.target))?;
            let mut conn = url.establish()?;
            // WAL persists in the file; setting it once here covers every later connection.
            conn.batch_execute("PRAGMA journal_mode = WAL;")?;
            conn
        }
        Backend::Postgres => match url.establish() {
            Ok(conn) => conn,
            Err(err) if settings.create_database && is_missing_database(&err) => {
                create_postgres_database(&url.target)?;
                url.establish()?
            }
            Err(err) => return Err(err),
        },
    };
    if settings.run_migrations {
        run_migrations(&mut conn)?;
    }
    drop(conn);
    Ok(pool(
        url,
        settings,
        settings.pool_min_idle,
        pool::Checks::Recent,
    ))
}

/// A pool over `url` sized and timed by `settings`, connecting lazily.
fn pool(
    url: DatabaseUrl,
    settings: &DatabaseSettings,
    min_idle: u32,
    checks: pool::Checks,
) -> Pool {
    Pool::new(url, settings, min_idle, checks)
}

fn ensure_parent_dir(path: &Path) -> Result<(), DbError> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && path.to_str() != Some(":memory:") => {
            std::fs::create_dir_all(dir).map_err(|source| DbError::SqliteDir {
                path: path.to_owned(),
                source,
            })
        }
        _ => Ok(()),
    }
}

fn is_missing_database(err: &DbError) -> bool {
    matches!(err, DbError::Connect { source: diesel::ConnectionError::BadConnection(msg), .. }
        if msg.contains("does not exist") && msg.contains("database"))
}

/// Creates the database named in the URL by connecting to the `postgres` maintenance database
/// of the same server with the same credentials.
fn create_postgres_database(target: &str) -> Result<(), DbError> {
    let parsed = url::Url::parse(target).map_err(|e| DbError::CreateDatabase {
        name: String::new(),
        source: Box::new(e),
    })?;
    let name = parsed.path().trim_start_matches('/').to_owned();
    let fail = |source: Box<dyn std::error::Error + Send + Sync>| DbError::CreateDatabase {
        name: name.clone(),
        source,
    };
    if name.is_empty() || name.contains('"') {
        return Err(fail("the URL names no usable database".into()));
    }
    let mut admin_url = parsed.clone();
    admin_url.set_path("/postgres");
    let mut admin =
        diesel::PgConnection::establish(admin_url.as_str()).map_err(|e| fail(Box::new(e)))?;
    tracing::info!(database = %name, "creating PostgreSQL database");
    match admin.batch_execute(&format!("CREATE DATABASE \"{name}\"")) {
        Ok(()) => Ok(()),
        // Another instance created it in the meantime.
        Err(diesel::result::Error::DatabaseError(_, info))
            if info.message().contains("already exists") =>
        {
            Ok(())
        }
        Err(e) => Err(fail(Box::new(e))),
    }
}

/// The advisory lock key that serialises migrations on PostgreSQL ("tomoni" in ASCII).
const MIGRATION_LOCK: i64 = 0x746f_6d6f_6e69;

/// Applies the pending migrations of the connection's backend and reports how many ran.
pub fn run_migrations(conn: &mut AnyConnection) -> Result<usize, DbError> {
    let applied = match conn {
        // In one transaction holding a transaction-level lock: instances started together (a
        // rolling upgrade, three replicas of a deployment) apply each migration once, and the
        // lock needs no session, so it also holds through a transaction pooler.
        AnyConnection::Postgresql(c) => c.transaction(|c| {
            c.batch_execute(&format!("SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))?;
            c.run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len())
        }),
        AnyConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    }
    .map_err(DbError::Migration)?;
    if applied > 0 {
        tracing::info!(applied, "database migrations applied");
    }
    backfill_event_dates(conn).map_err(DbError::Query)?;
    Ok(applied)
}

/// Fills `events.starts_on` where a migration could not: SQLite has no time-zone database, so
/// rows older than the column get their site-local start date here. A no-op once filled.
fn backfill_event_dates(conn: &mut AnyConnection) -> QueryResult<()> {
    use schema::events;
    let missing: Vec<(Id, Timestamp, String)> = events::table
        .filter(events::starts_on.is_null())
        .select((events::id, events::starts_at, events::timezone))
        .load(conn)?;
    for (id, starts_at, tz) in &missing {
        diesel::update(events::table.filter(events::id.eq(*id)))
            .set(events::starts_on.eq(crate::time::local_date(*starts_at, tz)))
            .execute(conn)?;
    }
    if !missing.is_empty() {
        tracing::info!(
            events = missing.len(),
            "filled in the local start date of events"
        );
    }
    Ok(())
}

/// The same statement for both backends: PostgreSQL's `$n` placeholders become SQLite's
/// numbered `?n`, so a statement may use its binds in any order.
pub fn placeholders(conn: &AnyConnection, sql: &str) -> String {
    match conn {
        AnyConnection::Postgresql(_) => sql.to_owned(),
        AnyConnection::Sqlite(_) => {
            let mut out = String::with_capacity(sql.len());
            let mut chars = sql.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                    out.push('?');
                } else {
                    out.push(c);
                }
            }
            out
        }
    }
}

/// The readiness probe's round trip: the database answers a trivial statement.
pub fn ping(conn: &mut AnyConnection) -> QueryResult<()> {
    conn.batch_execute("SELECT 1")
}

/// Opens one connection outside any pool (CLI commands, tests).
pub fn connect(settings: &DatabaseSettings) -> Result<AnyConnection, DbError> {
    DatabaseUrl::from_settings(settings)?.establish()
}

/// Runs the same diesel expression on the concrete connection of either backend: multi-row
/// INSERTs (and a few other statements) do not compile through `AnyConnection`, but do on each
/// backend's own connection.
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Postgresql($c) => $body,
            $crate::db::AnyConnection::Sqlite($c) => $body,
        }
    };
}
pub(crate) use per_backend;

/// A write transaction. On SQLite it starts with `BEGIN IMMEDIATE`, so a transaction that reads
/// before it writes takes the write lock up front and waits (busy_timeout) instead of failing
/// with SQLITE_BUSY when it later tries to upgrade. On PostgreSQL it is an ordinary transaction.
///
/// Called inside another transaction (a service inside `idempotency::create`, an import calling
/// services), it joins that transaction instead of opening a savepoint: every caller passes the
/// error on, so the whole transaction is rolled back either way, and a sign-up saves the two
/// round trips of SAVEPOINT/RELEASE (measured in bench/load.sh).
pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let depth = match conn {
        AnyConnection::Sqlite(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?
        }
        AnyConnection::Postgresql(c) => {
            AnsiTransactionManager::transaction_manager_status_mut(c).transaction_depth()?
        }
    };
    if depth.is_some() {
        return f(conn);
    }
    let file = match conn {
        AnyConnection::Postgresql(_) => return conn.transaction(f),
        AnyConnection::Sqlite(c) => diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
            "(SELECT file FROM pragma_database_list WHERE name = 'main')",
        ))
        .get_result::<String>(c)?,
    };
    let turn = sqlite_writers(&file);
    let mut held = turn
        .as_ref()
        .and_then(|t| t.writer.try_lock_for(SQLITE_BUSY_TIMEOUT));
    // The transaction runs on the process's writer connection when there is one (see
    // `sqlite_writers`), else on the caller's.
    let on_writer = held.as_mut().and_then(|slot| writer(slot, &file));
    let wrote_on_writer = on_writer.is_some();
    let caller = conn;
    let conn = on_writer.unwrap_or(&mut *caller);
    on_sqlite(conn, |c| {
        AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")
    })?;
    let result = match f(conn) {
        Ok(value) => on_sqlite(conn, AnsiTransactionManager::commit_transaction)
            .map(|()| value)
            .map_err(E::from),
        Err(err) => {
            on_sqlite(conn, AnsiTransactionManager::rollback_transaction)?;
            Err(err)
        }
    };
    // parking_lot's lock is eventually fair: a strict hand-over to the longest waiter on every
    // release (`unlock_fair`) measured slower with no better tail (2,128 vs 2,613 req/s).
    drop(held);
    // The writer does not checkpoint (see `checkpoint`): this request does, if one is due, now
    // that the next writer has its turn.
    if let (Some(turn), true, Ok(_)) = (&turn, wrote_on_writer, &result) {
        turn.checkpoints.committed();
        if let AnyConnection::Sqlite(c) = caller {
            turn.checkpoints
                .after_write(c, || turn.writer.try_lock_for(SQLITE_BUSY_TIMEOUT));
        }
    }
    result
}

/// How long SQLite waits for its write lock (`PRAGMA busy_timeout`), and a writer for its turn.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_millis(5000);

/// The process's one writing connection to a SQLite file, and which file it opened (the path
/// may since name another: a database removed and created again while the process runs).
struct Writer {
    conn: AnyConnection,
    file: Option<FileIdentity>,
}

#[cfg(unix)]
type FileIdentity = (u64, u64);
#[cfg(not(unix))]
type FileIdentity = ();

/// The device and inode `path` names now (`None` on other systems: never compared).
fn file_identity(path: &str) -> Option<FileIdentity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

/// The writer connection in `slot`, opened on first use (and again if the path now names
/// another file, or the last writer was left inside a transaction) with the pool's
/// per-connection settings; `None` (the caller's connection is used) if it cannot be opened.
fn writer<'a>(slot: &'a mut Option<Writer>, file: &str) -> Option<&'a mut AnyConnection> {
    let now = file_identity(file);
    // A writer whose transaction never ended (its work panicked) is closed, which rolls it back.
    if slot
        .as_mut()
        .is_some_and(|w| w.file != now || r2d2::R2D2Connection::is_broken(&mut w.conn))
    {
        *slot = None;
    }
    if slot.is_none() {
        let url = DatabaseUrl {
            backend: Backend::Sqlite,
            target: file.to_owned(),
            prepared_statements: true,
        };
        // Checkpoints are taken after the turn, by the request that wrote (see `checkpoint`).
        match url.establish().and_then(|mut conn| {
            conn.batch_execute("PRAGMA wal_autocheckpoint = 0;")
                .map_err(|e| DbError::Connect {
                    backend: "SQLite",
                    source: diesel::ConnectionError::CouldntSetupConfiguration(e),
                })
                .map(|()| conn)
        }) {
            Ok(conn) => *slot = Some(Writer { conn, file: now }),
            Err(error) => {
                tracing::warn!(%error, "the SQLite writer connection could not be opened");
                return None;
            }
        }
    }
    slot.as_mut().map(|w| &mut w.conn)
}

/// The turn at writing to one SQLite file, and the one connection of this process that writes
/// to it. SQLite lets one writer in at a time; a connection that finds the lock taken sleeps in
/// SQLite's busy handler (1, 2, 5, 10, ... ms) and often wakes long after the lock was free,
/// which made the sign-up p99 ~65 ms at 32 connections (BENCHMARKS.md). Writers of this process
/// take turns here instead and the next one is woken when the previous one commits. Other
/// processes (the CLI) still meet the busy handler, and a writer that waits longer than the busy
/// timeout goes on without its turn, on its own connection, as before.
///
/// Every write transaction runs on the same connection: each connection keeps its own page
/// cache, which SQLite drops whenever another connection has written since its last
/// transaction, so with writes spread over the pool every turn began by reading its pages
/// again (~50 reads per sign-up, BENCHMARKS.md). The one writer's cache stays warm, because
/// only it writes. `None` for in-memory databases (each connection its own).
fn sqlite_writers(file: &str) -> Option<std::sync::Arc<Turn>> {
    use std::collections::HashMap;
    use std::sync::{Arc, OnceLock};
    type Writers = parking_lot::Mutex<HashMap<String, Arc<Turn>>>;
    static WRITERS: OnceLock<Writers> = OnceLock::new();
    if file.is_empty() {
        return None;
    }
    let mut writers = WRITERS.get_or_init(Default::default).lock();
    Some(
        writers
            .entry(file.to_owned())
            .or_insert_with(|| {
                Arc::new(Turn {
                    writer: parking_lot::Mutex::new(None),
                    checkpoints: checkpoint::Checkpoints::new(),
                })
            })
            .clone(),
    )
}

/// One SQLite file's writer connection (its lock is the turn) and its checkpoints.
struct Turn {
    writer: parking_lot::Mutex<Option<Writer>>,
    checkpoints: checkpoint::Checkpoints,
}

fn on_sqlite(
    conn: &mut AnyConnection,
    op: impl FnOnce(&mut diesel::SqliteConnection) -> QueryResult<()>,
) -> QueryResult<()> {
    match conn {
        AnyConnection::Sqlite(c) => op(c),
        AnyConnection::Postgresql(_) => Ok(()),
    }
}

impl From<DbError> for crate::error::AppError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Query(e) => e.into(),
            other => crate::error::AppError::database_unavailable(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_placeholders_keep_their_numbers() {
        let conn = AnyConnection::Sqlite(
            diesel::SqliteConnection::establish(":memory:").expect("in-memory SQLite"),
        );
        assert_eq!(
            placeholders(&conn, "a = $2 AND b = $12, '$x'"),
            "a = ?2 AND b = ?12, '$x'"
        );
    }
}
