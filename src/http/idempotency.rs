//! `Idempotency-Key` for creating requests: a retried request gets the first response, the
//! same key with another body gets 422.
//!
//! The key is claimed (a row with no response yet) before the work runs, and the response is
//! stored in the same transaction as the work itself, so a stored response always belongs to a
//! committed change. If the work fails, the claim is released and a retry runs again. A claim
//! left behind by a crash is taken over after [`ABANDONED_AFTER_SECS`]. Keys are scoped to the
//! caller and kept for [`KEEP_HOURS`].

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::Duration;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::AppState;
use crate::db::schema::idempotency_keys as ik;
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult};

pub const HEADER: &str = "Idempotency-Key";
pub const KEEP_HOURS: i64 = 24;
pub const ABANDONED_AFTER_SECS: i64 = 60;

struct Claim {
    user: Id,
    key: String,
}

enum Begin {
    Run(Option<Claim>),
    Replay(u16, String),
}

/// A keyed hash (HMAC-SHA256 with a server secret) of the request: bodies may carry passwords,
/// and a plain hash of a guessable body would let a database reader test guesses offline.
fn fingerprint(key: &[u8], method: &str, path: &str, body: &str) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| {
        // HMAC takes keys of any length; this branch cannot be reached.
        <Hmac<Sha256> as Mac>::new_from_slice(b"tomoni").expect("a constant key is valid")
    });
    mac.update(format!("{method}\n{path}\n{body}").as_bytes());
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn begin(
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

/// Runs `work` in a write transaction, at most once per `Idempotency-Key` (when the request
/// carries one), and answers `status` with the JSON of its result, or the stored first answer.
/// `fingerprint_body` is the parsed request body: the same key with another body is refused.
pub async fn create<T, B>(
    state: &web::Data<AppState>,
    req: &HttpRequest,
    user: Id,
    fingerprint_body: &B,
    status: StatusCode,
    work: impl FnOnce(&mut AnyConnection) -> AppResult<T> + Send + 'static,
) -> AppResult<HttpResponse>
where
    T: Serialize + Send + 'static,
    B: Serialize,
{
    let key = match req.headers().get(HEADER) {
        Some(v) => Some(
            v.to_str()
                .map_err(|_| {
                    AppError::bad_request("invalid_idempotency_key", "Idempotency-Key must be text")
                })?
                .trim()
                .to_owned(),
        ),
        None => None,
    };
    let method = req.method().as_str().to_owned();
    let path = req.path().to_owned();
    let body = serde_json::to_string(fingerprint_body).map_err(AppError::internal)?;
    let hash = fingerprint(
        state.idempotency_key.expose().as_bytes(),
        &method,
        &path,
        &body,
    );
    let (code, body, replayed) = crate::http::with_conn(&state.pool, move |conn| {
        match begin(conn, user, key, &method, &path, &hash)? {
            Begin::Replay(code, body) => Ok((code, body, true)),
            Begin::Run(claim) => {
                let result = write_transaction(conn, |conn| -> AppResult<String> {
                    let out = serde_json::to_string(&work(conn)?).map_err(AppError::internal)?;
                    if let Some(claim) = &claim {
                        diesel::update(
                            ik::table
                                .filter(ik::user_id.eq(claim.user))
                                .filter(ik::key.eq(&claim.key)),
                        )
                        .set((
                            ik::status_code.eq(Some(i32::from(status.as_u16()))),
                            ik::response_body.eq(Some(&out)),
                        ))
                        .execute(conn)?;
                    }
                    Ok(out)
                });
                if result.is_err()
                    && let Some(claim) = &claim
                {
                    // Let a retry run the work again.
                    let _ = diesel::delete(
                        ik::table
                            .filter(ik::user_id.eq(claim.user))
                            .filter(ik::key.eq(&claim.key)),
                    )
                    .execute(conn);
                }
                result.map(|body| (status.as_u16(), body, false))
            }
        }
    })
    .await?;
    let mut response = HttpResponse::build(StatusCode::from_u16(code).unwrap_or(status));
    response.content_type("application/json");
    if replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    if let Some(id) = serde_json::from_str::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned))
    {
        response.insert_header(("Location", format!("{}/{id}", location_base(req.path()))));
    }
    Ok(response.body(body))
}

/// Where created things live: `/api/v1/events/{id}/signups` creates `/api/v1/signups/{id}`;
/// `/api/v1/events` creates `/api/v1/events/{id}`.
fn location_base(path: &str) -> String {
    match path.rsplit_once('/') {
        Some((_, "signups")) => "/api/v1/signups".to_owned(),
        _ => path.trim_end_matches('/').to_owned(),
    }
}
