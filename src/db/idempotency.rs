//! The `Idempotency-Key` store: a claim row per (caller, key) taken before the work runs, the
//! response stored in the same transaction as the work, the claim released when the work fails.
//! The HTTP side (headers, fingerprints, replaying the answer) is `http::idempotency`.

use actix_web::http::StatusCode;
use chrono::Duration;
use diesel::prelude::*;

use crate::db::schema::idempotency_keys as ik;
use crate::db::{AnyConnection, Id, Timestamp};
use crate::error::{AppError, AppResult};

/// How long a stored answer is replayed.
pub const KEEP_HOURS: i64 = 24;
/// A claim without an answer this old was left by a crash and may be taken over.
pub const ABANDONED_AFTER_SECS: i64 = 60;

/// A key this request holds until its work commits or fails.
pub struct Claim {
    user: Id,
    key: String,
}

/// What to do with a request.
pub enum Begin {
    /// Run the work (holding the claim when the request had a key).
    Run(Option<Claim>),
    /// Answer with the stored status and body.
    Replay(u16, String),
}

/// Claims `key` for `user`, or finds the stored answer (409 while another request holds it,
/// 422 for the same key with another request `hash`).
pub fn begin(
    conn: &mut AnyConnection,
    user: Id,
    key: Option<String>,
    method: &str,
    path: &str,
    hash: &str,
) -> AppResult<Begin> {
    let Some(key) = key else {
        return Ok(Begin::Run(None));
    };
    if key.is_empty() || key.len() > 255 {
        return Err(AppError::bad_request(
            "invalid_idempotency_key",
            "Idempotency-Key must be 1 to 255 characters",
        ));
    }
    let now = Timestamp::now();
    let claim = || {
        diesel::insert_into(ik::table).values((
            ik::user_id.eq(user),
            ik::key.eq(&key),
            ik::method.eq(method),
            ik::path.eq(path),
            ik::request_hash.eq(hash),
            ik::created_at.eq(now),
            ik::expires_at.eq(Timestamp::from(now.get() + Duration::hours(KEEP_HOURS))),
        ))
    };
    match claim().execute(conn) {
        Ok(_) => return Ok(Begin::Run(Some(Claim { user, key }))),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => {}
        Err(e) => return Err(e.into()),
    }
    type Row = (String, Option<i32>, Option<String>, Timestamp, Timestamp);
    let (stored_hash, status, body, created_at, expires_at): Row = ik::table
        .filter(ik::user_id.eq(user))
        .filter(ik::key.eq(&key))
        .select((
            ik::request_hash,
            ik::status_code,
            ik::response_body,
            ik::created_at,
            ik::expires_at,
        ))
        .first(conn)?;
    let abandoned =
        status.is_none() && created_at.get() + Duration::seconds(ABANDONED_AFTER_SECS) < now.get();
    if expires_at <= now || abandoned {
        // Take over: the guard on created_at lets only one retry win.
        let taken = diesel::update(
            ik::table
                .filter(ik::user_id.eq(user))
                .filter(ik::key.eq(&key))
                .filter(ik::created_at.eq(created_at)),
        )
        .set((
            ik::method.eq(method),
            ik::path.eq(path),
            ik::request_hash.eq(hash),
            ik::status_code.eq(None::<i32>),
            ik::response_body.eq(None::<String>),
            ik::created_at.eq(now),
            ik::expires_at.eq(Timestamp::from(now.get() + Duration::hours(KEEP_HOURS))),
        ))
        .execute(conn)?;
        if taken == 1 {
            return Ok(Begin::Run(Some(Claim { user, key })));
        }
        return Err(in_progress());
    }
    if stored_hash != hash {
        return Err(AppError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this Idempotency-Key was used for a different request",
        ));
    }
    match (status, body) {
        (Some(status), Some(body)) => Ok(Begin::Replay(u16::try_from(status).unwrap_or(200), body)),
        _ => Err(in_progress()),
    }
}

fn in_progress() -> AppError {
    AppError::conflict(
        "idempotency_in_progress",
        "a request with this Idempotency-Key is still running; retry shortly",
    )
    .with_header(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from_static("1"),
    )
}

/// Stores the answer with the work, inside its transaction.
pub fn store_response(
    conn: &mut AnyConnection,
    claim: &Claim,
    status: u16,
    body: &str,
) -> QueryResult<()> {
    diesel::update(
        ik::table
            .filter(ik::user_id.eq(claim.user))
            .filter(ik::key.eq(&claim.key)),
    )
    .set((
        ik::status_code.eq(Some(i32::from(status))),
        ik::response_body.eq(Some(body)),
    ))
    .execute(conn)
    .map(drop)
}

/// Gives the key back after failed work, so a retry runs it again.
pub fn release(conn: &mut AnyConnection, claim: &Claim) -> QueryResult<()> {
    diesel::delete(
        ik::table
            .filter(ik::user_id.eq(claim.user))
            .filter(ik::key.eq(&claim.key)),
    )
    .execute(conn)
    .map(drop)
}
