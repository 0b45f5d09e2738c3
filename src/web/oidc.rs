//! "Sign in with the company account": the two legs of the OpenID Connect flow on the pages.
//! The protocol is `auth::oidc`; the person found is signed in with a session like the form's.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{caller, session};
use crate::error::AppError;
use crate::web::page::PageError;
use crate::web::visitor::{self, Visitor};
use crate::web::{local_path, see_other, signin};

/// The flow's cookie: only ever sent back to the callback.
const FLOW_COOKIE: &str = "tomoni_oidc";
const FLOW_PATH: &str = "/sign-in/oidc";

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/sign-in/oidc", web::get().to(begin))
        .route("/sign-in/oidc/callback", web::get().to(callback));
}

fn redirect_uri(state: &AppState) -> String {
    format!(
        "{}/sign-in/oidc/callback",
        state.settings.server.public_base()
    )
}

fn flow_cookie(value: String, secure: bool, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(FLOW_COOKIE, value)
        .path(FLOW_PATH)
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(max_age_secs))
        .finish()
}

fn not_configured(visitor: &Visitor) -> PageError {
    visitor.error(AppError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "sign-in through an identity provider is not configured",
    ))
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Sends the browser to the provider, with the flow's secrets in a cookie.
async fn begin(
    state: web::Data<AppState>,
    req: HttpRequest,
    visitor: Visitor,
    q: web::Query<NextQuery>,
) -> Result<HttpResponse, PageError> {
    if state.oidc.is_none() {
        return Err(not_configured(&visitor));
    }
    let next = local_path(q.next.as_deref());
    let st = state.clone();
    let started = web::block(move || match &st.oidc {
        Some(oidc) => oidc.begin(&redirect_uri(&st), &next),
        None => Err(AppError::not_found("not configured")),
    })
    .await
    .map_err(|e| visitor.error(e.into()))?;
    match started {
        Ok((to, flow)) => {
            let mut res = see_other(&to);
            let secure = visitor::secure(&req, &state);
            res.add_cookie(&flow_cookie(flow, secure, 600))
                .map_err(|e| visitor.error(AppError::internal(e)))?;
            Ok(res)
        }
        Err(e) => signin::refused(&state, &visitor, e),
    }
}

#[derive(Deserialize)]
struct Callback {
    #[serde(default)]
    code: String,
    #[serde(default)]
    state: String,
    error: Option<String>,
}

/// The provider sends the browser back here: check, exchange, find the person, sign in.
async fn callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    visitor: Visitor,
    q: web::Query<Callback>,
) -> Result<HttpResponse, PageError> {
    if state.oidc.is_none() {
        return Err(not_configured(&visitor));
    }
    let q = q.into_inner();
    let secure = visitor::secure(&req, &state);
    if let Some(error) = q.error {
        tracing::info!(error, "the identity provider refused the sign-in");
        let refusal = AppError::new(
            StatusCode::UNAUTHORIZED,
            "oidc_refused",
            "the identity provider did not sign you in",
        );
        return signin::refused(&state, &visitor, refusal);
    }
    let flow = req
        .cookie(FLOW_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let st = state.clone();
    let ttl_hours = state.settings.auth.session_ttl_hours;
    let done = web::block(move || -> Result<(String, String), AppError> {
        let oidc = st
            .oidc
            .as_ref()
            .ok_or_else(|| AppError::not_found("not configured"))?;
        let (identity, next) = oidc.complete(&redirect_uri(&st), &flow, &q.state, &q.code)?;
        let mut conn = st.pool.get()?;
        let user = caller::find_by_identity(&mut conn, &identity)?;
        let caller = match user {
            Some(id) => caller::load_caller(&mut conn, id)?,
            None => None,
        }
        .ok_or_else(|| {
            tracing::info!("identity provider sign-in for no active account");
            AppError::new(
                StatusCode::UNAUTHORIZED,
                "oidc_no_account",
                "there is no active tomoni account for this company account; ask HR",
            )
        })?;
        let secret = session::start(
            &mut conn,
            caller.id,
            chrono::Duration::hours(i64::from(ttl_hours)),
        )?;
        tracing::info!(user = %caller.id, "signed in on the web through the identity provider");
        Ok((secret, next))
    })
    .await
    .map_err(|e| visitor.error(e.into()))?;
    match done {
        Ok((secret, next)) => {
            let mut res =
                visitor::signed_in(&req, &state, &visitor, secret, &local_path(Some(&next)))?;
            res.add_cookie(&flow_cookie(String::new(), secure, 0))
                .map_err(|e| visitor.error(AppError::internal(e)))?;
            Ok(res)
        }
        Err(e) => signin::refused(&state, &visitor, e),
    }
}
