//! Reads that may come from a streaming replica (`database.read_url`).
//!
//! Only reads that tolerate being a moment behind ask for one: the statistics, the breakdowns,
//! the exports and the employees' event list. Everything that writes, and every read that must
//! see what its caller has just written, takes the primary pool as before. The replica is used
//! while it answers, is streaming from the primary and has replayed what it received, or is
//! behind by no more than `database.read_max_lag_ms`; otherwise the read goes to the primary.
//! The check runs at most once a second, on whichever request comes first (no thread of its
//! own), with its own connection; requests meanwhile use the last answer.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::Double;

use super::{AnyConnection, DatabaseUrl, DbError, Pool, PooledConnection};
use crate::config::DatabaseSettings;

/// How often the replica's state is looked at.
const CHECK_EVERY: Duration = Duration::from_secs(1);
/// How long a read waits for a replica connection before taking the primary's.
const REPLICA_WAIT: Duration = Duration::from_millis(250);

/// Where a read was answered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Primary,
    Replica,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Primary => "primary",
            Source::Replica => "replica",
        }
    }
}

/// The primary pool and, when configured, the replica's.
pub struct Reads {
    primary: Pool,
    replica: Option<Replica>,
}

struct Replica {
    pool: Pool,
    url: DatabaseUrl,
    max_lag: Duration,
    /// The last check's answer, for requests that find a check running.
    usable: AtomicBool,
    check: Mutex<Check>,
}

#[derive(Default)]
struct Check {
    at: Option<Instant>,
    conn: Option<AnyConnection>,
}

impl Reads {
    /// The replica named in `settings.read_url` (PostgreSQL only), or none when it is empty.
    /// Nothing is connected yet: a replica that is down at start-up only means reads go to the
    /// primary until it answers.
    pub fn new(primary: Pool, settings: &DatabaseSettings) -> Result<Reads, DbError> {
        let read_url = settings.read_url.trim();
        if read_url.is_empty() {
            return Ok(Reads {
                primary,
                replica: None,
            });
        }
        let url = DatabaseUrl::from_settings(&DatabaseSettings {
            url: read_url.to_owned(),
            ..settings.clone()
        })?;
        let primary_backend =
            DatabaseUrl::parse(&settings.url, settings.connect_timeout())?.backend();
        if url.backend() != super::Backend::Postgres || primary_backend != super::Backend::Postgres
        {
            return Err(DbError::UnsupportedUrl(format!(
                "database.read_url {} (a replica is for a PostgreSQL database.url, and is a \
                 postgres:// URL itself)",
                url.redacted()
            )));
        }
        tracing::info!(replica = %url.redacted(), max_lag_ms = settings.read_max_lag_ms,
            "reads of statistics, exports and the event list may use the replica");
        let pool = super::pool(url.clone(), settings, 0, super::pool::Checks::Always);
        Ok(Reads {
            primary,
            replica: Some(Replica {
                pool,
                url,
                max_lag: Duration::from_millis(settings.read_max_lag_ms),
                usable: AtomicBool::new(false),
                check: Mutex::new(Check::default()),
            }),
        })
    }

    /// The pool whose queue such a read waits in: the replica's when one is configured (a read
    /// that falls back to the primary keeps that turn), else the primary's.
    /// Whether a replica is configured (whatever its state now).
    pub fn has_replica(&self) -> bool {
        self.replica.is_some()
    }

    pub fn queue(&self) -> &Pool {
        self.replica.as_ref().map_or(&self.primary, |r| &r.pool)
    }

    /// A connection for a read that may be a moment behind: the replica's when it is usable,
    /// else the primary's.
    pub fn get(&self) -> Result<(PooledConnection, Source), diesel::r2d2::PoolError> {
        if let Some(replica) = &self.replica
            && replica.usable()
        {
            match replica.pool.get_timeout(REPLICA_WAIT) {
                Ok(conn) => return Ok((conn, Source::Replica)),
                Err(e) => {
                    tracing::warn!(error = %e, "replica connection unavailable; reading from the primary");
                    replica.usable.store(false, Ordering::SeqCst);
                }
            }
        }
        Ok((self.primary.get()?, Source::Primary))
    }

    /// A connection of its own, outside both pools, for a long read (an export): the
    /// replica's when it is usable, else the primary's (`primary` is its settings).
    pub fn connect(&self, primary: &DatabaseSettings) -> Result<(AnyConnection, Source), DbError> {
        if let Some(replica) = &self.replica
            && replica.usable()
        {
            match replica.url.establish() {
                Ok(conn) => return Ok((conn, Source::Replica)),
                Err(e) => {
                    tracing::warn!(error = %e, "replica connection failed; reading from the primary");
                    replica.usable.store(false, Ordering::SeqCst);
                }
            }
        }
        Ok((super::connect(primary)?, Source::Primary))
    }
}

impl Replica {
    fn usable(&self) -> bool {
        let Ok(mut check) = self.check.try_lock() else {
            return self.usable.load(Ordering::SeqCst);
        };
        if check.at.is_some_and(|at| at.elapsed() < CHECK_EVERY) {
            return self.usable.load(Ordering::SeqCst);
        }
        check.at = Some(Instant::now());
        let usable = match self.lag(&mut check.conn) {
            Ok(Some(lag)) if lag <= self.max_lag => true,
            Ok(lag) => {
                tracing::warn!(
                    lag_ms = lag.map(|l| l.as_millis() as u64),
                    max_lag_ms = self.max_lag.as_millis() as u64,
                    "replica behind or not streaming; reading from the primary"
                );
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "replica not answering; reading from the primary");
                check.conn = None;
                false
            }
        };
        self.usable.store(usable, Ordering::SeqCst);
        usable
    }

    /// How far behind the replica is: zero when it has replayed all it received from a live
    /// stream (after a restart it reports as received only what came since, which may be less
    /// than it replayed from its own files), the age of the last replayed transaction while it replays, `None` when it is not
    /// streaming (cut off from the primary, whose writes it then cannot know about).
    fn lag(&self, conn: &mut Option<AnyConnection>) -> Result<Option<Duration>, DbError> {
        let conn = match conn {
            Some(conn) => conn,
            None => conn.insert(self.url.establish()?),
        };
        let seconds: Option<f64> =
            diesel::select(diesel::dsl::sql::<diesel::sql_types::Nullable<Double>>(
                "CASE WHEN NOT pg_is_in_recovery() THEN 0 \
             WHEN NOT EXISTS (SELECT 1 FROM pg_stat_wal_receiver) THEN NULL \
             WHEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() THEN 0 \
             ELSE EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 END",
            ))
            .get_result(conn)?;
        Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
    }
}
