//! The email outbox, write side. Every message starts as an outbox row written in the same
//! transaction as the change that causes it ([`enqueue`]), so a message is never sent for a
//! change that rolled back, nor lost for one that committed. Each message carries a dedupe key,
//! so enqueueing the same message twice (a retried request, a replayed change) leaves one row.
//!
//! Its own module below the features (like `audit`): the features that cause mail write here,
//! and `mail` (templates, delivery) reads the rows, so neither imports the other.

use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::outbox;
use crate::db::{AnyConnection, Id, Timestamp};

/// The kinds of message, as stored in `outbox.kind`.
pub mod kind {
    pub const SIGNUP_CONFIRMED: &str = "signup_confirmed";
    pub const SIGNUP_WAITLISTED: &str = "signup_waitlisted";
    pub const SIGNUP_PROMOTED: &str = "signup_promoted";
    pub const SIGNUP_CANCELLED: &str = "signup_cancelled";
    pub const EVENT_CANCELLED: &str = "event_cancelled";
    pub const REMINDER: &str = "reminder";
    pub const HOURS_APPROVED: &str = "hours_approved";
    pub const HOURS_REJECTED: &str = "hours_rejected";
    pub const EVENT_CHANGED: &str = "event_changed";
    pub const INVITATION: &str = "invitation";
    pub const PASSWORD_RESET: &str = "password_reset";
}

/// One message to queue. The recipient's address and locale are read from the user at enqueue
/// time; the template reads the current event when it renders.
pub struct Outgoing<'a> {
    pub kind: &'a str,
    pub dedupe_key: String,
    pub user: Id,
    pub payload: Value,
    /// Not sent before this instant (reminders); now for everything else.
    pub not_before: Timestamp,
}

/// Queues `msg` inside the caller's transaction. Returns whether a row was written (false: the
/// same dedupe key is queued already, or the user does not exist).
pub fn enqueue(conn: &mut AnyConnection, msg: Outgoing<'_>) -> QueryResult<bool> {
    let now = Timestamp::now();
    let sql = "INSERT INTO outbox (id, kind, dedupe_key, user_id, to_address, locale, payload, \
               status, attempts, next_attempt_at, created_at, updated_at) \
               SELECT $1, $2, $3, u.id, u.email, u.locale, $4, 'pending', 0, $5, $6, $6 \
               FROM users u WHERE u.id = $7 ON CONFLICT (dedupe_key) DO NOTHING";
    // Prepared once per connection (`db::literal::statement`): every sign-up queues a message.
    let written = crate::db::literal::statement(sql)
        .uuid(Id::new())
        .text(msg.kind)
        .text(msg.dedupe_key)
        .text(msg.payload.to_string())
        .time(msg.not_before)
        .time(now)
        .uuid(msg.user)
        .execute(conn)?;
    Ok(written == 1)
}

/// Withdraws queued messages that no longer apply (a reminder for a cancelled sign-up).
pub fn withdraw(conn: &mut AnyConnection, dedupe_prefix: &str) -> QueryResult<usize> {
    let pattern = format!(
        "{}%",
        dedupe_prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    diesel::update(
        outbox::table
            .filter(outbox::status.eq("pending"))
            .filter(outbox::dedupe_key.like(pattern).escape('\\')),
    )
    .set((
        outbox::status.eq("cancelled"),
        outbox::updated_at.eq(Timestamp::now()),
    ))
    .execute(conn)
}

/// How many messages are in each status (the queue's size on `/metrics`).
pub fn counts_by_status(conn: &mut AnyConnection) -> QueryResult<Vec<(String, i64)>> {
    outbox::table
        .group_by(outbox::status)
        .select((outbox::status, diesel::dsl::count_star()))
        .load(conn)
}
