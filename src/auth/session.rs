//! Web sessions: what a signed-in browser's cookie stands for. The cookie carries a random
//! secret; the row keeps its SHA-256 (as refresh tokens do), the user, a CSRF token and when it
//! ends. A session is checked against the database on every request, so sign-out, deactivation
//! and a password change end it at once — the reason it is a row and not a signed cookie.
//!
//! No request types here: the web front door reads and writes the cookie.

use chrono::Duration;
use diesel::prelude::*;

use crate::auth::caller::{Caller, caller_of};
use crate::auth::tokens::{hash_refresh_secret, new_refresh_secret};
use crate::db::schema::users;
use crate::db::schema::web_sessions as ws;
use crate::db::{AnyConnection, Id, Timestamp};
use crate::error::AppResult;

/// A live session as a request sees it.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: Id,
    pub caller: Caller,
    /// Must come back with every unsafe request of this session.
    pub csrf_token: String,
    /// Shown on every page ("signed in as").
    pub display_name: String,
    /// The user's language (`en`, `ja`).
    pub locale: String,
}

/// Starts a new session for `user` and returns the secret for the cookie (always a new one: a
/// session planted before sign-in is never carried over). Sweeps the user's ended and expired
/// rows on the way, so the table stays the size of the live sessions.
pub fn start(conn: &mut AnyConnection, user: Id, ttl: Duration) -> AppResult<String> {
    let now = Timestamp::now();
    diesel::delete(
        ws::table
            .filter(ws::user_id.eq(user))
            .filter(ws::ended_at.is_not_null().or(ws::expires_at.le(now))),
    )
    .execute(conn)?;
    let secret = new_refresh_secret();
    let csrf_token = new_refresh_secret();
    let id = Id::new();
    diesel::insert_into(ws::table)
        .values((
            ws::id.eq(id),
            ws::user_id.eq(user),
            ws::secret_hash.eq(hash_refresh_secret(&secret)),
            ws::csrf_token.eq(&csrf_token),
            ws::created_at.eq(now),
            ws::expires_at.eq(Timestamp::from(now.get() + ttl)),
        ))
        .execute(conn)?;
    Ok(secret)
}

/// The live session behind a cookie value: `None` when unknown, ended, expired, or its user is
/// deactivated.
pub fn resolve(conn: &mut AnyConnection, secret: &str) -> AppResult<Option<Session>> {
    let now = Timestamp::now();
    type Row = (Id, Id, String, String, String, String, Option<Id>, bool);
    // One query for the session and its user; the caller is built from the same row.
    let row: Option<Row> = ws::table
        .inner_join(users::table)
        .filter(ws::secret_hash.eq(hash_refresh_secret(secret)))
        .filter(ws::ended_at.is_null())
        .filter(ws::expires_at.gt(now))
        .select((
            ws::id,
            ws::user_id,
            ws::csrf_token,
            users::display_name,
            users::locale,
            users::role,
            users::site_id,
            users::active,
        ))
        .first(conn)
        .optional()?;
    let Some((id, user, csrf_token, display_name, locale, role, site_id, active)) = row else {
        return Ok(None);
    };
    Ok(
        caller_of(conn, user, &role, site_id, active)?.map(|caller| Session {
            id,
            caller,
            csrf_token,
            display_name,
            locale,
        }),
    )
}

/// Ends one session (sign-out). Ending an ended session is fine.
pub fn end(conn: &mut AnyConnection, id: Id) -> AppResult<()> {
    diesel::update(
        ws::table
            .filter(ws::id.eq(id))
            .filter(ws::ended_at.is_null()),
    )
    .set(ws::ended_at.eq(Timestamp::now()))
    .execute(conn)?;
    Ok(())
}

/// Ends every session of a user (deactivation, password change).
pub fn end_all_for_user(conn: &mut AnyConnection, user: Id) -> QueryResult<usize> {
    diesel::update(
        ws::table
            .filter(ws::user_id.eq(user))
            .filter(ws::ended_at.is_null()),
    )
    .set(ws::ended_at.eq(Timestamp::now()))
    .execute(conn)
}
