//! The `Caller` extractor: a handler that takes a `Caller` cannot run for an anonymous or
//! deactivated user. It reads the bearer token and hands it to [`auth::caller::from_bearer`];
//! cookies never authenticate the API.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::AppState;
use crate::auth::Caller;
use crate::auth::caller::{from_bearer, unauthorized};
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

impl FromRequest for Caller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let reason = restatement(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            let token =
                token.ok_or_else(|| unauthorized("unauthorized", "a bearer token is required"))?;
            let pool = state.pool.clone();
            let mut caller = crate::http::queued(&pool, move |deadline| {
                from_bearer(
                    &state.pool,
                    deadline,
                    &state.tokens,
                    state.idp.as_ref(),
                    &token,
                )
            })
            .await?;
            caller.restatement = reason;
            Ok(caller)
        })
    }
}
