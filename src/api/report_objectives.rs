//! HTTP handlers for the report's objectives table (`stats::report_objectives`): everyone
//! signed in reads it; HR and admins write it.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use tracing_actix_web::RequestId;
use utoipa::IntoParams;

use crate::AppState;
use crate::api::stats::one_view;
use crate::auth::Caller;
use crate::error::{AppResult, Problem};
use crate::http::json::Deferred;
use crate::http::{resource, with_conn};
use crate::stats::report_objectives::{
    self as objectives, AssessmentInput, ObjectiveDraft, ObjectivesTable, YearObjective,
};
use crate::stats::rollup;
use crate::time::checked_year;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TableQuery {
    #[param(minimum = 1900, maximum = 2200)]
    pub fiscal_year: i32,
    /// A closed year: `published` (default) or `current`.
    #[param(pattern = "^(published|current)$")]
    pub figures: Option<String>,
}

/// A fiscal year's objectives table: the medium-term objectives covering it with the year's
/// objectives under them, each graded on the year's figures (a measured objective takes the
/// lowest grade of its measures) or by a person.
#[utoipa::path(get, path = "/api/v1/report-objectives", tag = "statistics", security(("bearer" = [])),
    params(TableQuery),
    responses((status = 200, description = "The table (a closed year's as published unless figures=current)", body = ObjectivesTable),
              (status = 400, description = "Bad year or view", body = Problem, content_type = "application/problem+json")))]
pub async fn objectives_table(
    state: web::Data<AppState>,
    _caller: Caller,
    q: web::Query<TableQuery>,
) -> AppResult<HttpResponse> {
    let fy = checked_year("fiscal_year", q.fiscal_year)?;
    let view = one_view(q.figures.as_deref())?;
    let table = with_conn(&state.pool, move |c| {
        let fiscal = rollup::calendar(c)?;
        objectives::table_as(c, fiscal, fy, view)
    })
    .await?;
    Ok(HttpResponse::Ok().json(table))
}

/// Adds a medium-term or fiscal-year objective (HR and admins; audited). One covering a closed
/// year needs a `Restatement-Reason`.
#[utoipa::path(post, path = "/api/v1/report-objectives", tag = "statistics", security(("bearer" = [])),
    request_body = ObjectiveDraft,
    responses((status = 201, description = "Added, graded in its last year (or this year)", body = YearObjective),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "A closed year without a reason (`restatement_reason_required`), or 40 objectives already start that year", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid objective", body = Problem, content_type = "application/problem+json")))]
pub async fn create_objective(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    body: Deferred<ObjectiveDraft>,
) -> AppResult<HttpResponse> {
    caller.require(&[crate::auth::Role::Hr, crate::auth::Role::Admin])?;
    let draft = body.parse()?;
    let request_id = request_id.to_string();
    let made = with_conn(&state.pool, move |c| {
        objectives::create(c, &caller, &draft, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Created().json(made))
}

/// Rewrites an objective (HR and admins; audited). Its old and new years that are closed need
/// a `Restatement-Reason`.
#[utoipa::path(put, path = "/api/v1/report-objectives/{id}", tag = "statistics", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Objective id")),
    request_body = ObjectiveDraft,
    responses((status = 200, description = "Saved", body = YearObjective),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such objective", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "A closed year without a reason, or objectives under it outside the new span", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid objective", body = Problem, content_type = "application/problem+json")))]
pub async fn update_objective(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    body: Deferred<ObjectiveDraft>,
) -> AppResult<HttpResponse> {
    caller.require(&[crate::auth::Role::Hr, crate::auth::Role::Admin])?;
    let draft = body.parse()?;
    let id = id.into_inner().into();
    let request_id = request_id.to_string();
    let saved = with_conn(&state.pool, move |c| {
        objectives::update(c, &caller, id, &draft, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// Deletes an objective with none under it (HR and admins; audited).
#[utoipa::path(delete, path = "/api/v1/report-objectives/{id}", tag = "statistics", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Objective id")),
    responses((status = 204, description = "Deleted"),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such objective", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "A closed year without a reason, or objectives under it", body = Problem, content_type = "application/problem+json")))]
pub async fn delete_objective(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    caller.require(&[crate::auth::Role::Hr, crate::auth::Role::Admin])?;
    let id = id.into_inner().into();
    let request_id = request_id.to_string();
    with_conn(&state.pool, move |c| {
        objectives::delete(c, &caller, id, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Records what an objective achieved and, for a qualitative one, the grade (HR and admins;
/// audited with who graded it and when).
#[utoipa::path(put, path = "/api/v1/report-objectives/{id}/assessment", tag = "statistics", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Objective id")),
    request_body = AssessmentInput,
    responses((status = 200, description = "Saved", body = YearObjective),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such objective", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "A closed year without a reason", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A grade for a measured objective, or achievements too long", body = Problem, content_type = "application/problem+json")))]
pub async fn assess_objective(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    body: Deferred<AssessmentInput>,
) -> AppResult<HttpResponse> {
    caller.require(&[crate::auth::Role::Hr, crate::auth::Role::Admin])?;
    let input = body.parse()?;
    let id = id.into_inner().into();
    let request_id = request_id.to_string();
    let saved = with_conn(&state.pool, move |c| {
        objectives::assess(c, &caller, id, &input, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(saved))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/v1/report-objectives", "GET, POST")
            .route(web::get().to(objectives_table))
            .route(web::post().to(create_objective)),
    )
    .service(
        resource("/api/v1/report-objectives/{id}", "PUT, DELETE")
            .route(web::put().to(update_objective))
            .route(web::delete().to(delete_objective)),
    )
    .service(
        resource("/api/v1/report-objectives/{id}/assessment", "PUT")
            .route(web::put().to(assess_objective)),
    );
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    objectives_table,
    create_objective,
    update_objective,
    delete_objective,
    assess_objective
))]
pub struct Doc;
