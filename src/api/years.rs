//! HTTP handlers for the report cycle: closing a fiscal year, restating it, reopening it, and
//! reading its published versions (`stats::closing`).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use tracing_actix_web::RequestId;
use utoipa::ToSchema;

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::error::{AppResult, Problem};
use crate::http::json::Deferred;
use crate::http::{resource, with_conn};
use crate::stats::closing::{self, Snapshot, YearStatus};
use crate::time::checked_year;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestateInput {
    /// What the new version corrects, as the report's note will say (1 to 500 characters;
    /// default: the recorded reasons, joined).
    pub note: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReopenInput {
    /// Why the year is opened again (1 to 500 characters; audited).
    pub reason: String,
}

/// Where a fiscal year stands: closed or not, its published versions with the corrections each
/// took in, and corrections waiting for the next version (HR and admins: reasons can name
/// people).
#[utoipa::path(get, path = "/api/v1/stats/years/{fy}", tag = "statistics", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year")),
    responses((status = 200, description = "The year's state", body = YearStatus),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json")))]
pub async fn year_status(
    state: web::Data<AppState>,
    caller: Caller,
    fy: web::Path<i32>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin])?;
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let status = with_conn(&state.pool, move |c| closing::status(c, fy)).await?;
    Ok(HttpResponse::Ok().json(status))
}

/// Closes an ended fiscal year and publishes its figures (version 1, or the next after a
/// reopening): the table, breakdowns and objectives. From then on a change that moves one of
/// its figures needs a `Restatement-Reason` header, and readers get the published figures.
#[utoipa::path(post, path = "/api/v1/stats/years/{fy}/close", tag = "statistics", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year")),
    responses((status = 200, description = "Closed and published", body = YearStatus),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Already closed (`year_closed`) or not ended (`year_not_ended`)", body = Problem, content_type = "application/problem+json")))]
pub async fn close_year(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    fy: web::Path<i32>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin])?;
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let request_id = request_id.to_string();
    let status = with_conn(&state.pool, move |c| {
        closing::close(c, &caller, fy, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(status))
}

/// Publishes the next version of a closed year with the corrections recorded since the last
/// one; the previous versions stay readable.
#[utoipa::path(post, path = "/api/v1/stats/years/{fy}/restate", tag = "statistics", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year")),
    request_body = RestateInput,
    responses((status = 200, description = "Restated: a new version", body = YearStatus),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not closed (`year_open`) or no correction recorded (`nothing_to_restate`)", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A note too long", body = Problem, content_type = "application/problem+json")))]
pub async fn restate_year(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    fy: web::Path<i32>,
    body: Deferred<RestateInput>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin])?;
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let input = body.parse()?;
    let request_id = request_id.to_string();
    let status = with_conn(&state.pool, move |c| {
        closing::restate(c, &caller, fy, input.note.as_deref(), Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(status))
}

/// Opens a closed year again (admins; audited with the reason). Its published versions stay;
/// readers get its current figures until it is closed again.
#[utoipa::path(post, path = "/api/v1/stats/years/{fy}/reopen", tag = "statistics", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year")),
    request_body = ReopenInput,
    responses((status = 200, description = "Open again", body = YearStatus),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Not closed (`year_open`)", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "No reason, or too long", body = Problem, content_type = "application/problem+json")))]
pub async fn reopen_year(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    fy: web::Path<i32>,
    body: Deferred<ReopenInput>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Admin])?;
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let input = body.parse()?;
    let request_id = request_id.to_string();
    let status = with_conn(&state.pool, move |c| {
        closing::reopen(c, &caller, fy, Some(&input.reason), Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(status))
}

/// One published version of a year: every figure as it was published (every signed-in user
/// reads aggregates).
#[utoipa::path(get, path = "/api/v1/stats/years/{fy}/versions/{version}", tag = "statistics", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year"),
           ("version" = i32, Path, minimum = 1, description = "Published version")),
    responses((status = 200, description = "The published figures", body = Snapshot),
              (status = 404, description = "No such version", body = Problem, content_type = "application/problem+json")))]
pub async fn year_version(
    state: web::Data<AppState>,
    _caller: Caller,
    path: web::Path<(i32, i32)>,
) -> AppResult<HttpResponse> {
    let (fy, version) = path.into_inner();
    let fy = checked_year("fiscal year", fy)?;
    let (_, snapshot) = with_conn(&state.pool, move |c| {
        closing::published(c, fy, Some(version))
    })
    .await?;
    Ok(HttpResponse::Ok().json(snapshot))
}

/// This module's routes (mounted by `api::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/stats/years/{fy}", "GET").route(web::get().to(year_status)))
        .service(
            resource("/api/v1/stats/years/{fy}/close", "POST").route(web::post().to(close_year)),
        )
        .service(
            resource("/api/v1/stats/years/{fy}/restate", "POST")
                .route(web::post().to(restate_year)),
        )
        .service(
            resource("/api/v1/stats/years/{fy}/reopen", "POST").route(web::post().to(reopen_year)),
        )
        .service(
            resource("/api/v1/stats/years/{fy}/versions/{version}", "GET")
                .route(web::get().to(year_version)),
        );
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(year_status, close_year, restate_year, reopen_year, year_version))]
pub struct Doc;
