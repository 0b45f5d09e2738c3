//! The `Caller` and `Bearer` extractors: a handler that takes either cannot run for an anonymous
//! or deactivated user (a `Bearer` is checked on the handler's own connection, see
//! `Bearer::with_conn`). They read the bearer token; cookies never authenticate the API.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::AppState;
use crate::auth::Caller;
use crate::auth::caller::{Bearer, unauthorized, verify};
use crate::error::AppError;

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The header a change to a closed fiscal year gives its reason in (UTF-8; see
/// `stats::closing`). Its length is checked where it is used.
pub const RESTATEMENT_REASON: &str = "restatement-reason";

fn restatement(req: &HttpRequest) -> Option<String> {
    let raw = req.headers().get(RESTATEMENT_REASON)?.as_bytes();
    let text = String::from_utf8_lossy(raw).trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// The bearer token checked on the worker (CPU only); the account is looked up later, by the
/// `Caller` extractor or, on the hot paths, by the handler's own turn at the pool.
fn verified(req: &HttpRequest) -> Result<(web::Data<AppState>, Bearer), AppError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| AppError::internal("application state missing"))?;
    let token =
        bearer(req).ok_or_else(|| unauthorized("unauthorized", "a bearer token is required"))?;
    let subject = verify(&state.tokens, state.idp.as_ref(), &token)?;
    Ok((
        state,
        Bearer {
            subject,
            restatement: restatement(req),
        },
    ))
}

impl FromRequest for Bearer {
    type Error = AppError;
    type Future = std::future::Ready<Result<Bearer, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(verified(req).map(|(_, bearer)| bearer))
    }
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let verified = verified(req);
        Box::pin(async move {
            let (state, bearer) = verified?;
            crate::http::with_conn(&state.pool, move |conn| bearer.caller(conn)).await
        })
    }
}

/// Runs `f` as the caller `bearer` stands for, on the replica when `may_lag(caller)` says the
/// read may be a moment behind (`http::with_read_conn`), else on the primary. Without a replica
/// the account and the read share one connection and one turn at the pool; with one, the
/// account is looked up on the primary first (a sign-out must hold at once).
pub async fn read_as<T: Send + 'static>(
    state: &AppState,
    bearer: Bearer,
    may_lag: fn(&Caller) -> bool,
    f: impl FnOnce(&mut crate::db::AnyConnection, &Caller) -> crate::error::AppResult<T>
    + Send
    + 'static,
) -> crate::error::AppResult<T> {
    if state.reads.has_replica() {
        let caller = crate::http::with_conn(&state.pool, move |c| bearer.caller(c)).await?;
        if may_lag(&caller) {
            crate::http::with_read_conn(state, move |c| f(c, &caller)).await
        } else {
            crate::http::with_conn(&state.pool, move |c| f(c, &caller)).await
        }
    } else {
        let metrics = state.metrics.clone();
        bearer
            .with_conn(&state.pool, move |c, caller| {
                if may_lag(&caller) {
                    metrics.replica_eligible_read(crate::db::replica::Source::Primary.as_str());
                }
                f(c, &caller)
            })
            .await
    }
}
