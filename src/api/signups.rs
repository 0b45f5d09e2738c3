//! HTTP handlers for sign-ups and rosters.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::auth::caller::Bearer;
use crate::db::Id;
use crate::error::{AppError, AppResult, Problem};
use crate::http::idempotency;
use crate::http::json::Json;
use crate::http::pagination::{self, Page};
use crate::http::{resource, with_conn};
use crate::signups::roster::{self, RosterEntry};
use crate::signups::service::{self, Signup, SignupStatus};

#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    /// Sign up someone else (coordinators of the event's site, admins). Default: the caller.
    pub user_id: Option<uuid::Uuid>,
    /// Coordinators: accept although the employee has an overlapping confirmed sign-up.
    #[serde(default)]
    pub force: bool,
}

/// Signs up for an event: `confirmed`, or `waitlisted` with a position, or 409 when full and the
/// waitlist is off. The body may be `{}` for a self sign-up. With an `Idempotency-Key` header a
/// retried request gets the first answer (header `Idempotent-Replayed: true`); the same key with
/// another body gets 422 `idempotency_key_reused`.
#[utoipa::path(post, path = "/api/v1/events/{id}/signups", tag = "signups", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id"),
           ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe (1-255 characters)")),
    request_body = SignupRequest,
    responses((status = 201, description = "Signed up (confirmed or waitlisted)", body = Signup),
              (status = 403, description = "Signing up someone else without coordinating the site", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such event (or a draft)", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Already signed up, overlapping, full, closed", body = Problem, content_type = "application/problem+json")))]
pub async fn sign_up(
    state: web::Data<AppState>,
    bearer: Bearer,
    req: HttpRequest,
    id: web::Path<uuid::Uuid>,
    body: Json<SignupRequest>,
) -> AppResult<HttpResponse> {
    let event_id = Id::from(id.into_inner());
    let body = body.into_inner();
    let (user, force) = (body.user_id.map(Id::from), body.force);
    // The busiest write: the account is looked up in the same turn at the pool as the sign-up.
    idempotency::create_by(
        state.idempotency(),
        &req,
        move |c| {
            let caller = bearer.caller(c)?;
            Ok((caller.id, caller))
        },
        &body,
        StatusCode::CREATED,
        move |c, caller| service::sign_up_as(c, &caller, event_id, user, force),
    )
    .await
}

/// Cancels a sign-up: the employee before the cancellation deadline, a coordinator of the site
/// at any time. A freed seat goes to the first on the waitlist in the same transaction.
#[utoipa::path(delete, path = "/api/v1/signups/{id}", tag = "signups", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Sign-up id")),
    responses((status = 200, description = "Cancelled", body = Signup),
              (status = 404, description = "No such sign-up (or not the caller's)", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Already cancelled, or past the cancellation deadline", body = Problem, content_type = "application/problem+json")))]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let signup = with_conn(&state.pool, move |c| service::cancel_as(c, &caller, id)).await?;
    Ok(HttpResponse::Ok().json(signup))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RosterQuery {
    /// `json` (default) or `csv` (times in the event's zone, with the offset).
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
    /// CSV: start with a byte-order mark (Excel then reads UTF-8).
    pub bom: Option<bool>,
}

/// The roster of an event: confirmed (in sign-up order), waitlisted (in line order), cancelled,
/// with contact details. For the site's coordinators, admins and HR.
#[utoipa::path(get, path = "/api/v1/events/{id}/roster", tag = "signups", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id"), RosterQuery),
    responses((status = 200, description = "The roster (JSON, or CSV with format=csv)", body = Vec<RosterEntry>),
              (status = 403, description = "Not a coordinator of the site", body = Problem, content_type = "application/problem+json")))]
pub async fn roster(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<RosterQuery>,
) -> AppResult<HttpResponse> {
    let event_id = Id::from(id.into_inner());
    let csv = crate::http::format_param(q.format.as_deref(), &["json", "csv"])? == "csv";
    let (event, entries) =
        with_conn(&state.pool, move |c| roster::roster(c, &caller, event_id)).await?;
    if !csv {
        return Ok(HttpResponse::Ok().json(entries));
    }
    let body = roster::csv(&event, &entries, q.bom.unwrap_or(false)).map_err(AppError::internal)?;
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"roster-{}.csv\"", event.id),
        ))
        .body(body))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MySignupsQuery {
    pub status: Option<SignupStatus>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The caller's own sign-ups, newest first.
#[utoipa::path(get, path = "/api/v1/me/signups", tag = "signups", security(("bearer" = [])), params(MySignupsQuery),
    responses((status = 200, description = "A page of the caller's sign-ups, each with its event", body = Page<service::MySignup>)))]
pub async fn my_signups(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<MySignupsQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let limit = pagination::limit(q.limit)?;
    let before = pagination::id_cursor(q.cursor.as_deref())?;
    let rows = with_conn(&state.pool, move |c| {
        service::mine(c, &caller, q.status, before, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(pagination::page(rows, limit, |s| s.signup.id.to_string())))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/events/{id}/signups", "POST").route(web::post().to(sign_up)))
        .service(resource("/api/v1/events/{id}/roster", "GET").route(web::get().to(roster)))
        .service(resource("/api/v1/signups/{id}", "DELETE").route(web::delete().to(cancel)))
        .service(resource("/api/v1/me/signups", "GET").route(web::get().to(my_signups)));
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(sign_up, cancel, roster, my_signups))]
pub struct Doc;
