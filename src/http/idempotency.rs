//! `Idempotency-Key` for creating requests: a retried request gets the first response, the
//! same key with another body gets 422.
//!
//! The key is claimed (a row with no response yet) before the work runs, and the response is
//! stored in the same transaction as the work itself, so a stored response always belongs to a
//! committed change. If the work fails, the claim is released and a retry runs again. A claim
//! left behind by a crash is taken over after [`ABANDONED_AFTER_SECS`]. Keys are scoped to the
//! caller and kept for [`KEEP_HOURS`].

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse};
use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;

use crate::db::idempotency::{self as store, Begin};
pub use crate::db::idempotency::{ABANDONED_AFTER_SECS, KEEP_HOURS};
use crate::db::{AnyConnection, Id, Pool, write_transaction};
use crate::error::{AppError, AppResult};

pub const HEADER: &str = "Idempotency-Key";

/// Where keys are kept and the secret their request fingerprints are keyed with.
#[derive(Clone, Copy)]
pub struct Store<'a> {
    pub pool: &'a Pool,
    pub secret: &'a [u8],
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

/// Runs `work` in a write transaction, at most once per `Idempotency-Key` (when the request
/// carries one), and answers `status` with the JSON of its result, or the stored first answer.
/// `fingerprint_body` is the parsed request body: the same key with another body is refused.
pub async fn create<T, B>(
    store: Store<'_>,
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
    create_by(
        store,
        req,
        move |_| Ok((user, ())),
        fingerprint_body,
        status,
        move |conn, ()| work(conn),
    )
    .await
}

/// [`create`] with the caller found by `who` on the request's connection, in the same turn at the
/// pool as the work (a hot creating request looks its account up there: `auth::caller::Bearer`).
/// A key is scoped to the user `who` returns; what else it returns is handed on to `work`.
pub async fn create_by<T, B, C>(
    store: Store<'_>,
    req: &HttpRequest,
    who: impl FnOnce(&mut AnyConnection) -> AppResult<(Id, C)> + Send + 'static,
    fingerprint_body: &B,
    status: StatusCode,
    work: impl FnOnce(&mut AnyConnection, C) -> AppResult<T> + Send + 'static,
) -> AppResult<HttpResponse>
where
    T: Serialize + Send + 'static,
    B: Serialize,
    C: Send + 'static,
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
    let hash = fingerprint(store.secret, &method, &path, &body);
    let (code, body, replayed) = crate::http::with_conn(store.pool, move |conn| {
        let (user, who) = who(conn)?;
        match store::begin(conn, user, key, &method, &path, &hash)? {
            Begin::Replay(code, body) => Ok((code, body, true)),
            Begin::Run(claim) => {
                let result = write_transaction(conn, |conn| -> AppResult<String> {
                    let out =
                        serde_json::to_string(&work(conn, who)?).map_err(AppError::internal)?;
                    if let Some(claim) = &claim {
                        store::store_response(conn, claim, status.as_u16(), &out)?;
                    }
                    Ok(out)
                });
                if result.is_err()
                    && let Some(claim) = &claim
                {
                    // Let a retry run the work again.
                    let _ = store::release(conn, claim);
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
