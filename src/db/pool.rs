//! The connection pool: r2d2 over [`AnyConnection`], with three things r2d2 does not do alone.
//!
//! - **A queue in arrival order.** Requests wait for a turn on a fair semaphore sized to the pool
//!   before they take a blocking thread and a connection. Without it, when more requests are in
//!   flight than the pool has connections, each returned connection goes to whichever thread
//!   grabs the pool's lock first, so an unlucky request waits while later ones pass it: a long
//!   tail at 32 connections over a pool of 8, and dozens of blocking threads waking for nothing.
//! - **No ping for a connection that was just in use.** r2d2 validates every check-out with a
//!   round trip; for a request that takes two connections that doubled its round trips. A
//!   connection handed back less than [`RECENTLY`] ago is trusted; an older one is pinged. The
//!   replica's pool still pings every check-out ([`Checks::Always`]): that ping is what sends a
//!   read to the primary when the replica has gone.
//! - **A broken link is noticed.** A connection whose statement failed because the connection
//!   closed (the server restarted, a network cut) is dropped when it comes back instead of
//!   being lent again, and every other connection is pinged before its next use from then on,
//!   since links rarely break alone. So skipping the ping costs the requests that found a
//!   broken link first (503, as before).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use diesel::connection::{Connection, Instrumentation, InstrumentationEvent, SimpleConnection};
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::result::{DatabaseErrorKind, Error};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{AnyConnection, DatabaseUrl, DbError};
use crate::config::DatabaseSettings;

/// How long after its last use a connection is lent again without a ping. Short enough that a
/// connection idle across a database restart is always checked (a restart takes longer).
pub const RECENTLY: Duration = Duration::from_secs(1);

/// The pool and its queue. Cloning is cheap (both are shared).
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<ConnectionManager>,
    queue: Arc<Semaphore>,
    /// Requests waiting for a turn (for `/metrics`).
    queued: Arc<AtomicUsize>,
    /// Turns given since start (for `/metrics`: turns per request is what a page or an
    /// endpoint costs the pool).
    turns: Arc<AtomicU64>,
    wait: Duration,
}

pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// What the pool knows of one connection, kept in the connection itself as its diesel
/// instrumentation (diesel hands it back by type): when the connection last came back to the
/// pool, and in which of the pool's link epochs.
struct Health {
    returned: Option<(Instant, u64)>,
    /// The pool's count of broken links seen, shared by all its connections.
    epochs: Arc<AtomicU64>,
}

impl Instrumentation for Health {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::FinishQuery { error: Some(e), .. } = event
            && link_lost(e)
        {
            // This connection is dropped when it comes back (diesel then reports it broken:
            // libpq no longer knows its transaction state). A broken link is rarely alone (a restart, a cut): every other connection is
            // pinged before its next use from now on, however recently it was used.
            self.epochs.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn health(conn: &mut AnyConnection) -> Option<&mut Health> {
    conn.instrumentation().downcast_mut::<Health>()
}

/// Whether a statement's error means the connection itself is gone, not the statement.
fn link_lost(error: &Error) -> bool {
    matches!(
        error,
        Error::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _
        ) | Error::BrokenTransactionManager
    )
}

/// The r2d2 manager. Unlike diesel's own, it knows the backend from the URL scheme and keeps the
/// driver's error, so a wrong port reads "connection refused", not "timed out".
pub struct ConnectionManager {
    url: DatabaseUrl,
    epochs: Arc<AtomicU64>,
    checks: Checks,
}

/// When the pool pings a connection before lending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checks {
    /// Unless it came back less than [`RECENTLY`] ago with no broken link seen since: the
    /// primary's pool, where a request that finds a dead connection answers 503 as it would
    /// during the outage anyway.
    Recent,
    /// Every time: the replica's pool, where a read that finds the replica gone must go to the
    /// primary instead (`db::replica`), which only the ping before the check-out can decide.
    Always,
}

impl ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = DbError;

    fn connect(&self) -> Result<AnyConnection, DbError> {
        let mut conn = self.url.establish()?;
        conn.set_instrumentation(Health {
            returned: None,
            epochs: self.epochs.clone(),
        });
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), DbError> {
        let epoch = self.epochs.load(Ordering::Relaxed);
        let trusted = health(conn)
            .and_then(|h| h.returned)
            .is_some_and(|(at, seen)| seen == epoch && at.elapsed() < RECENTLY)
            && self.checks == Checks::Recent;
        if trusted {
            return Ok(());
        }
        conn.batch_execute("SELECT 1").map_err(DbError::Query)
    }

    /// Called by r2d2 each time a connection comes back, which is when its last use ended.
    /// Broken: its link is gone, or it comes back inside a transaction.
    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        let epoch = self.epochs.load(Ordering::Relaxed);
        if let Some(h) = health(conn) {
            h.returned = Some((Instant::now(), epoch));
        }
        conn.is_broken()
    }
}

/// Counts a waiting request out of [`Pool::queued`] however its wait ends.
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Logs pool errors through tracing instead of r2d2's default (the `log` crate, unwired here).
#[derive(Debug)]
struct PoolErrorLogger;

impl r2d2::HandleError<DbError> for PoolErrorLogger {
    fn handle_error(&self, error: DbError) {
        tracing::warn!(error = %error, "database connection failed");
    }
}

impl Pool {
    /// A pool over `url` sized and timed by `settings`, connecting lazily.
    pub(super) fn new(
        url: DatabaseUrl,
        settings: &DatabaseSettings,
        min_idle: u32,
        checks: Checks,
    ) -> Pool {
        let wait = settings.connect_timeout();
        let inner = r2d2::Pool::builder()
            .max_size(settings.pool_max_size)
            .min_idle(Some(min_idle.min(settings.pool_max_size)))
            .connection_timeout(wait)
            .idle_timeout(Some(Duration::from_secs(settings.pool_idle_timeout_secs)))
            .max_lifetime(Some(Duration::from_secs(settings.pool_max_lifetime_secs)))
            .error_handler(Box::new(PoolErrorLogger))
            .build_unchecked(ConnectionManager {
                url,
                epochs: Arc::default(),
                checks,
            });
        Pool {
            queue: Arc::new(Semaphore::new(settings.pool_max_size as usize)),
            queued: Arc::default(),
            turns: Arc::default(),
            inner,
            wait,
        }
    }

    /// A connection, waiting up to the configured time. Blocks: call it on a blocking thread,
    /// after [`Pool::turn`] when serving a request.
    pub fn get(&self) -> Result<PooledConnection, r2d2::PoolError> {
        self.inner.get()
    }

    pub fn get_timeout(&self, timeout: Duration) -> Result<PooledConnection, r2d2::PoolError> {
        self.inner.get_timeout(timeout)
    }

    pub fn state(&self) -> r2d2::State {
        self.inner.state()
    }

    pub fn max_size(&self) -> u32 {
        self.inner.max_size()
    }

    /// How long a request may wait for a connection in all.
    pub fn wait(&self) -> Duration {
        self.wait
    }

    /// A turn at the pool, in arrival order: at most `max_size` holders at once, so each holder
    /// finds a connection free or about to be (background work takes its connections without a
    /// turn). `None` if the queue was closed, which it never is.
    pub async fn turn(&self) -> Option<OwnedSemaphorePermit> {
        self.turns.fetch_add(1, Ordering::Relaxed);
        if let Ok(turn) = self.queue.clone().try_acquire_owned() {
            return Some(turn);
        }
        self.queued.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.queued);
        self.queue.clone().acquire_owned().await.ok()
    }

    /// How many requests are waiting for a turn now.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// How many turns were asked for since the pool was made.
    pub fn turns(&self) -> u64 {
        self.turns.load(Ordering::Relaxed)
    }
}
