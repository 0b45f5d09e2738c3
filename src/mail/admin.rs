//! The admin view of the outbox: what is queued, what failed and why, and a way to try again.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit;
use crate::auth::{Caller, Role};
use crate::db::schema::outbox;
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutboxStatus {
    Pending,
    Sending,
    Sent,
    Dead,
    Cancelled,
}

impl OutboxStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sending => "sending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Dead => "dead",
            OutboxStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = outbox)]
struct Row {
    id: Id,
    kind: String,
    dedupe_key: String,
    to_address: String,
    status: String,
    attempts: i32,
    next_attempt_at: Timestamp,
    last_error: Option<String>,
    sent_at: Option<Timestamp>,
    created_at: Timestamp,
}

/// A queued message (its body is rendered only when sent).
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxItem {
    pub id: uuid::Uuid,
    pub kind: String,
    pub dedupe_key: String,
    pub to_address: String,
    /// pending, sending, sent, dead or cancelled.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Row> for OutboxItem {
    fn from(r: Row) -> OutboxItem {
        OutboxItem {
            id: r.id.into(),
            kind: r.kind,
            dedupe_key: r.dedupe_key,
            to_address: r.to_address,
            status: r.status,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at.into(),
            last_error: r.last_error,
            sent_at: r.sent_at.map(Into::into),
            created_at: r.created_at.into(),
        }
    }
}

/// Only admins see and retry the queue (it holds every employee's address).
pub fn authorize(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Admin])
}

/// Messages oldest first, after `after` (admins): up to `limit + 1`, the extra one telling the
/// page there is more.
pub fn list(
    conn: &mut AnyConnection,
    caller: &Caller,
    status: Option<OutboxStatus>,
    after: Option<Id>,
    limit: i64,
) -> AppResult<Vec<OutboxItem>> {
    authorize(caller)?;
    let mut query = outbox::table.select(Row::as_select()).into_boxed();
    if let Some(s) = status {
        query = query.filter(outbox::status.eq(s.as_str()));
    }
    if let Some(a) = after {
        query = query.filter(outbox::id.gt(a));
    }
    let rows: Vec<Row> = query.order(outbox::id).limit(limit + 1).load(conn)?;
    Ok(rows.into_iter().map(OutboxItem::from).collect())
}

/// Queues a dead, cancelled or pending message again, now, with a fresh set of attempts
/// (admins; audited). A message already sent is not sent again (409).
pub fn retry(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: Id,
    request_id: &str,
) -> AppResult<OutboxItem> {
    authorize(caller)?;
    write_transaction(conn, |c| {
        let now = Timestamp::now();
        let n = diesel::update(
            outbox::table
                .filter(outbox::id.eq(id))
                .filter(outbox::status.eq_any(["dead", "cancelled", "pending"])),
        )
        .set((
            outbox::status.eq("pending"),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(now),
            outbox::updated_at.eq(now),
        ))
        .execute(c)?;
        let row: Option<Row> = outbox::table
            .filter(outbox::id.eq(id))
            .select(Row::as_select())
            .first(c)
            .optional()?;
        let row = row.ok_or_else(|| AppError::not_found("no such message"))?;
        if n == 0 {
            return Err(AppError::conflict(
                "not_retryable",
                format!("the message is {}", row.status),
            ));
        }
        audit::record(
            c,
            audit::Entry {
                actor: Some(caller.id),
                action: "outbox.retry",
                entity_type: "outbox",
                entity_id: Some(id.to_string()),
                details: json!({"kind": row.kind, "last_error": row.last_error}),
                request_id: Some(request_id.to_owned()),
            },
        )?;
        Ok(OutboxItem::from(row))
    })
}
