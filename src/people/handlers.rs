//! HTTP handlers for users.

use actix_web::{HttpResponse, web};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};
use crate::people::users;

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/me", tag = "people", security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = users::User),
        (status = 401, description = "No or invalid token", body = crate::error::Problem,
         content_type = "application/problem+json"),
    ))]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    let pool = state.pool.clone();
    let user = web::block(move || -> AppResult<Option<users::User>> {
        let mut conn = pool.get()?;
        users::find(&mut conn, caller.id)
    })
    .await??
    .ok_or_else(|| AppError::not_found("no such user"))?;
    Ok(HttpResponse::Ok().json(user))
}
