//! Sign-in endpoints: login, refresh, logout, and setting a password through an emailed link.

use crate::http::resource;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::caller::{Caller, unauthorized};
use crate::auth::refresh::{self, Rotation};
use crate::auth::signin;
use crate::error::{AppError, AppResult};
use crate::http::json::Json;

/// Credentials. Deliberately no `Debug`: the password must not reach a log line.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "a.tanaka@example.com")]
    pub email: String,
    #[schema(format = Password)]
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

/// A new pair of tokens.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer <access_token>`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Exchange at `/api/v1/auth/refresh` for a new pair; single use.
    pub refresh_token: String,
}

fn tokens(
    state: &AppState,
    caller: &Caller,
    sign_in: crate::db::Id,
    refresh_token: String,
) -> AppResult<TokenResponse> {
    let access_token = state
        .tokens
        .issue(caller.id, caller.role, sign_in)
        .map_err(AppError::internal)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.access_ttl_secs,
        refresh_token,
    })
}

/// Signs in with email and password.
///
/// Wrong email and wrong password answer the same 401 in the same time.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = TokenResponse),
        (status = 401, description = "Wrong email or password, or the account is deactivated", body = crate::error::Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "The body is not a login request", body = crate::error::Problem,
         content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts for this account (from this address or from all) or from this address; see Retry-After",
         body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> AppResult<HttpResponse> {
    let LoginRequest {
        email,
        password: given,
    } = body.into_inner();
    let address = crate::http::client_address(&req, state.settings.auth.trust_forwarded_for);
    let st = state.clone();
    let response = web::block(move || -> AppResult<TokenResponse> {
        // On PostgreSQL the attempt budgets are shared in the database: off the async threads.
        signin::check_limit(&st.login_limiter, &email, address)?;
        let caller = signin::verify_password(&st.pool, &email, &given)?;
        signin::succeeded(&st.login_limiter, &email, address);
        let mut conn = st.pool.get()?;
        let sign_in = crate::db::Id::new();
        let refresh_token = refresh::issue(
            &mut conn,
            caller.id,
            sign_in,
            st.settings.jwt.refresh_ttl_secs,
        )?;
        tracing::info!(user = %caller.id, "signed in");
        tokens(&st, &caller, sign_in, refresh_token)
    })
    .await??;
    // Tokens must not sit in a cache between the client and us.
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(response))
}

/// Exchanges a refresh token for a new token pair.
///
/// Each refresh token works once. Presenting one again revokes every token of that sign-in.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = TokenResponse),
        (status = 401, description = "Unknown, expired, revoked or re-used refresh token", body = crate::error::Problem,
         content_type = "application/problem+json"),
    ))]
pub async fn refresh_tokens(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> AppResult<HttpResponse> {
    let presented = body.into_inner().refresh_token;
    let st = state.clone();
    let response = web::block(move || -> AppResult<TokenResponse> {
        let mut conn = st.pool.get()?;
        match refresh::rotate(&mut conn, &presented, st.settings.jwt.refresh_ttl_secs)? {
            Rotation::Rotated {
                caller,
                refresh_token,
                sign_in,
            } => tokens(&st, &caller, sign_in, refresh_token),
            Rotation::Reused => {
                tracing::warn!(
                    "a rotated refresh token was presented again; its sign-in is revoked"
                );
                Err(unauthorized(
                    "refresh_token_reused",
                    "this refresh token was already used; sign in again",
                ))
            }
            Rotation::Invalid(why) => Err(unauthorized("invalid_refresh_token", why)),
        }
    })
    .await??;
    // Tokens must not sit in a cache between the client and us.
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(response))
}

/// Signs out: revokes the refresh token and every token of the same sign-in.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", request_body = RefreshRequest,
    responses((status = 204, description = "Signed out (also for an unknown token)")))]
pub async fn logout(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> AppResult<HttpResponse> {
    let presented = body.into_inner().refresh_token;
    let pool = state.pool.clone();
    web::block(move || -> AppResult<()> {
        let mut conn = pool.get()?;
        Ok(refresh::revoke(&mut conn, &presented)?)
    })
    .await??;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    #[schema(example = "a.tanaka@example.com")]
    pub email: String,
}

/// The one answer to a reset request, whoever asked.
#[derive(Serialize, ToSchema)]
pub struct ResetAccepted {
    pub detail: &'static str,
}

/// "Forgot password": mails a single-use link (valid `auth.reset_ttl_minutes`) to the address
/// when it belongs to an active account.
///
/// The answer is the same whether or not the address has an account, so it cannot be used to
/// find out who works here. Limited per address asked for and per client like sign-ins.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "auth", request_body = ResetRequest,
    responses(
        (status = 202, description = "Accepted: a link is on its way if the address has an active account", body = ResetAccepted),
        (status = 422, description = "The body is not a reset request", body = crate::error::Problem,
         content_type = "application/problem+json"),
        (status = 429, description = "Too many requests for this address or client; see Retry-After",
         body = crate::error::Problem, content_type = "application/problem+json"),
    ))]
pub async fn password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<ResetRequest>,
) -> AppResult<HttpResponse> {
    let email = body.into_inner().email;
    let address = crate::http::client_address(&req, state.settings.auth.trust_forwarded_for);
    let st = state.clone();
    let checked = email.clone();
    web::block(move || signin::check_reset_limit(&st.reset_limiter, &checked, address)).await??;
    let ttl = chrono::Duration::minutes(i64::from(state.settings.auth.reset_ttl_minutes));
    crate::http::with_conn(&state.pool, move |c| {
        crate::auth::links::request_reset(c, &email, ttl)
    })
    .await?;
    Ok(HttpResponse::Accepted().json(ResetAccepted {
        detail: "if the address belongs to an active account, a link to set a new password is on its way",
    }))
}

/// A new password, with the secret from an invitation or reset link. No `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPasswordRequest {
    /// The `token` of the link in the mail.
    pub token: String,
    #[schema(format = Password)]
    pub password: String,
}

/// Sets a password with the secret of an invitation or reset link. The link then stops working,
/// and every other sign-in of the account ends (its refresh tokens are revoked).
#[utoipa::path(post, path = "/api/v1/auth/password", tag = "auth", request_body = SetPasswordRequest,
    responses(
        (status = 204, description = "Password set; sign in with it"),
        (status = 400, description = "The link is unknown, used or expired (`invalid_link`)", body = crate::error::Problem,
         content_type = "application/problem+json"),
        (status = 422, description = "The password is too short", body = crate::error::Problem,
         content_type = "application/problem+json"),
    ))]
pub async fn set_password(
    state: web::Data<AppState>,
    body: Json<SetPasswordRequest>,
) -> AppResult<HttpResponse> {
    let SetPasswordRequest { token, password } = body.into_inner();
    let pool = state.pool.clone();
    let user = web::block(move || crate::auth::links::redeem(&pool, &token, &password)).await??;
    tracing::info!(user = %user, "password set through a link");
    Ok(HttpResponse::NoContent().finish())
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/auth/login", "POST").route(web::post().to(login)))
        .service(resource("/api/v1/auth/refresh", "POST").route(web::post().to(refresh_tokens)))
        .service(resource("/api/v1/auth/logout", "POST").route(web::post().to(logout)))
        .service(
            resource("/api/v1/auth/password-reset", "POST").route(web::post().to(password_reset)),
        )
        .service(resource("/api/v1/auth/password", "POST").route(web::post().to(set_password)));
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(login, refresh_tokens, logout, password_reset, set_password))]
pub struct Doc;
