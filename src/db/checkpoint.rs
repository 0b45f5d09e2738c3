//! When a SQLite file's write-ahead log is copied back into the database (a checkpoint).
//!
//! SQLite's own rule checkpoints in the connection that commits once the log passes 1,000 pages,
//! and that connection is the process's one writer (`write_transaction`), still holding the
//! turn every other writer waits for: each checkpoint (its writes and two `fsync`s) stalled
//! every sign-up queued behind it. Measured with `bench/history.sh`-style sign-ups at 32
//! connections, a checkpoint every 10,000 pages instead of 1,000 gave ~10 % more sign-ups but a
//! p99 of 46 ms instead of 20 ms (larger, rarer stalls). So the writer connection does not
//! checkpoint (`wal_autocheckpoint = 0`); the request that has just written does, after it has
//! handed the turn on, on its own pooled connection, at most once per [`EVERY`], one at a time
//! per file. A passive checkpoint waits for no one: writers go on appending to the log meanwhile,
//! and what a reader still needs stays in the log for the next one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use diesel::prelude::*;

/// The shortest time between two checkpoints of one file. Under load this bounds them to ten a
/// second (at ~3,000 sign-ups a second, ~300 commits each); when writes are sparser than this,
/// each one is followed by its own checkpoint, so the log stays short.
pub(super) const EVERY: Duration = Duration::from_millis(100);

/// One file's checkpoint state, shared by the requests of this process that write to it.
pub(super) struct Checkpoints {
    /// What `last` counts from.
    origin: Instant,
    /// When the last checkpoint started, in milliseconds after `origin`.
    last: AtomicU64,
    /// Set by every commit, cleared when a checkpoint starts: nothing to copy back otherwise.
    pending: AtomicBool,
    running: AtomicBool,
}

/// One row of `PRAGMA wal_checkpoint`.
#[derive(QueryableByName)]
struct Outcome {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    busy: i32,
    /// Frames in the log.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    log: i32,
    /// Frames copied back, by this and earlier checkpoints.
    #[diesel(sql_type = diesel::sql_types::Integer)]
    checkpointed: i32,
}

impl Checkpoints {
    pub(super) fn new() -> Self {
        Checkpoints {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            pending: AtomicBool::new(false),
            running: AtomicBool::new(false),
        }
    }

    /// A write transaction committed on the writer connection.
    pub(super) fn committed(&self) {
        self.pending.store(true, Ordering::Release);
    }

    /// Whether a checkpoint should start now; if so, the caller has claimed it (and clears
    /// `running` when it ends).
    fn claim(&self) -> bool {
        self.claim_at(u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX))
    }

    /// [`Checkpoints::claim`] at `now` milliseconds after `origin`.
    fn claim_at(&self, now: u64) -> bool {
        if !self.pending.load(Ordering::Acquire) {
            return false;
        }
        let every = u64::try_from(EVERY.as_millis()).unwrap_or(u64::MAX);
        if now < self.last.load(Ordering::Acquire).saturating_add(every) {
            return false;
        }
        if self
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        // Commits from here on set it again and are copied by the next checkpoint.
        self.pending.store(false, Ordering::Release);
        self.last.store(now, Ordering::Release);
        true
    }

    /// Takes a passive checkpoint on `conn` (not in a transaction) if one is due and none runs.
    /// A failure is logged and otherwise ignored: the write it follows has committed, and the
    /// next checkpoint copies what this one did not.
    ///
    /// Under steady writes the log is never found fully copied (frames are appended while a
    /// checkpoint runs), and SQLite only starts writing it from its beginning again when a
    /// writer finds it so: the file grew by ~1.3 GB in an 8-second sign-up run. So once it holds
    /// more than [`RESTART_FRAMES`], the rest (what was appended during the first pass) is
    /// copied holding the turn (`hold_turn`), and the next writer starts the log over.
    pub(super) fn after_write<G>(
        &self,
        conn: &mut diesel::SqliteConnection,
        hold_turn: impl FnOnce() -> Option<G>,
    ) {
        if !self.claim() {
            return;
        }
        let mut outcomes = vec![passive(conn)];
        if matches!(&outcomes[0], Ok(o) if o.log >= RESTART_FRAMES) {
            // A second pass first, outside the turn, copies what was appended during the
            // first: the pass holding the turn is then short (~9 ms every ~300 ms at 3,000
            // sign-ups a second; one pass before it gave a p99 of 23-25 ms instead of 20-22).
            outcomes.push(passive(conn));
            if let Some(_turn) = hold_turn() {
                outcomes.push(passive(conn));
            }
        }
        self.running.store(false, Ordering::Release);
        for outcome in outcomes {
            match outcome {
                Ok(o) => tracing::debug!(
                    busy = o.busy,
                    log_frames = o.log,
                    checkpointed = o.checkpointed,
                    "SQLite checkpoint"
                ),
                Err(error) => tracing::warn!(%error, "SQLite checkpoint failed"),
            }
        }
    }
}

/// Log frames (pages) past which a checkpoint finishes holding the writers' turn, so that the
/// log can start over: ~32 MB of 4 KiB pages, eight times SQLite's own threshold, so that the
/// pass in the turn comes rarely (every ~300 ms at 3,000 sign-ups a second).
const RESTART_FRAMES: i32 = 8000;

fn passive(conn: &mut diesel::SqliteConnection) -> QueryResult<Outcome> {
    diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_is_claimed_once_per_interval_and_only_after_a_commit() {
        let every = u64::try_from(EVERY.as_millis()).unwrap_or(u64::MAX);
        let c = Checkpoints::new();
        assert!(
            !c.claim_at(10 * every),
            "nothing committed: nothing to copy back"
        );
        c.committed();
        assert!(
            !c.claim_at(every - 1),
            "the start counts as the last checkpoint"
        );
        assert!(c.claim_at(every), "a commit and EVERY since the last");
        c.committed();
        assert!(
            !c.claim_at(3 * every),
            "one at a time: the claimed one still runs"
        );
        c.running.store(false, Ordering::Release);
        assert!(!c.claim_at(2 * every - 1), "within EVERY of the last");
        assert!(
            c.claim_at(2 * every),
            "the commit made while it ran is copied by the next"
        );
        c.running.store(false, Ordering::Release);
        assert!(!c.claim_at(10 * every), "nothing committed since");
    }
}
