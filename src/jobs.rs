//! Work that outlives its request: an import of a large file runs after the upload is answered
//! and the page asks how it is going. The row (`import_jobs`) is what every instance sees —
//! who started it, whether it still runs, and when done its outcome; how far a running job has
//! got is kept by the instance running it ([`Progress`]), since on SQLite the import's own
//! write transaction would keep any other writer out until it ends.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::prelude::*;

use crate::db::schema::import_jobs;
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult};

/// How a job ended (or that it has not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    /// The import (or its check) went through; `result` holds its report.
    Done,
    /// The file was refused; `result` holds the problem, every bad line included.
    Rejected,
    /// Something broke that is not the file's fault.
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Done => "done",
            Status::Rejected => "rejected",
            Status::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Status {
        match s {
            "done" => Status::Done,
            "rejected" => Status::Rejected,
            "failed" => Status::Failed,
            _ => Status::Running,
        }
    }
}

/// A job as its page reads it.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: Id,
    pub kind: String,
    pub dry_run: bool,
    pub invite: bool,
    pub status: Status,
    /// The report or the problem, as JSON.
    pub result: Option<String>,
    /// After a passed check: the file's text, for the form that imports it.
    pub content: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Records a new running job of `user`; the user's earlier finished jobs go (a person follows
/// their latest import).
pub fn start(
    conn: &mut AnyConnection,
    user: Id,
    kind: &str,
    dry_run: bool,
    invite: bool,
) -> AppResult<Id> {
    let id = Id::new();
    write_transaction(conn, |c| -> AppResult<()> {
        diesel::delete(
            import_jobs::table
                .filter(import_jobs::user_id.eq(user))
                .filter(import_jobs::status.ne(Status::Running.as_str())),
        )
        .execute(c)?;
        diesel::insert_into(import_jobs::table)
            .values((
                import_jobs::id.eq(id),
                import_jobs::user_id.eq(user),
                import_jobs::kind.eq(kind),
                import_jobs::dry_run.eq(dry_run),
                import_jobs::invite.eq(invite),
                import_jobs::status.eq(Status::Running.as_str()),
                import_jobs::created_at.eq(Timestamp::now()),
            ))
            .execute(c)?;
        Ok(())
    })?;
    Ok(id)
}

/// Records how `id` ended.
pub fn finish(
    conn: &mut AnyConnection,
    id: Id,
    status: Status,
    result: &str,
    content: Option<&str>,
) -> AppResult<()> {
    write_transaction(conn, |c| -> AppResult<()> {
        diesel::update(import_jobs::table.filter(import_jobs::id.eq(id)))
            .set((
                import_jobs::status.eq(status.as_str()),
                import_jobs::result.eq(Some(result)),
                import_jobs::content.eq(content),
                import_jobs::finished_at.eq(Some(Timestamp::now())),
            ))
            .execute(c)?;
        Ok(())
    })
}

type Row = (
    Id,
    String,
    bool,
    bool,
    String,
    Option<String>,
    Option<String>,
    Timestamp,
);

/// `user`'s job `id`; 404 for anyone else's (a job's outcome names people and lines).
pub fn find(conn: &mut AnyConnection, id: Id, user: Id) -> AppResult<Job> {
    let row: Option<Row> = import_jobs::table
        .filter(import_jobs::id.eq(id))
        .filter(import_jobs::user_id.eq(user))
        .select((
            import_jobs::id,
            import_jobs::kind,
            import_jobs::dry_run,
            import_jobs::invite,
            import_jobs::status,
            import_jobs::result,
            import_jobs::content,
            import_jobs::created_at,
        ))
        .first(conn)
        .optional()?;
    let (id, kind, dry_run, invite, status, result, content, created_at) =
        row.ok_or_else(|| AppError::not_found("no such import"))?;
    Ok(Job {
        id,
        kind,
        dry_run,
        invite,
        status: Status::parse(&status),
        result,
        content,
        created_at: created_at.into(),
    })
}

/// How far the jobs this instance runs have got: (done, total) rows by job.
#[derive(Debug, Clone, Default)]
pub struct Progress(Arc<parking_lot::Mutex<HashMap<Id, (u64, u64)>>>);

impl Progress {
    pub fn set(&self, job: Id, done: u64, total: u64) {
        self.0.lock().insert(job, (done, total));
    }

    pub fn get(&self, job: Id) -> Option<(u64, u64)> {
        self.0.lock().get(&job).copied()
    }

    pub fn forget(&self, job: Id) {
        self.0.lock().remove(&job);
    }
}
