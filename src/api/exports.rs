//! HTTP handlers for exports and the participation import.
//!
//! An export answers 200 only once its parameters, the caller's rights and a database
//! connection are settled; the rows then stream (`exports::download`, shared with HR's exports
//! page), and every export is audited with its purpose, filters and row count.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use tracing_actix_web::RequestId;
use utoipa::IntoParams;

use crate::AppState;
use crate::attendance::model::Approval;
use crate::auth::Caller;
use crate::db::Id;
use crate::error::{AppResult, Problem};
use crate::exports::download::{self, Export, ParticipationRequest};
use crate::exports::import::{self, ParticipationReport};
use crate::http::{download_response, format_param, resource, with_conn};
use crate::programs::records_scope;
use crate::sheet::Kind;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ParticipationQuery {
    /// Why the data is exported (3 to 500 characters); written to the audit log.
    #[param(min_length = 3, max_length = 500)]
    pub purpose: Option<String>,
    #[param(minimum = 1900, maximum = 2200)]
    pub fiscal_year: Option<i32>,
    pub site_id: Option<uuid::Uuid>,
    pub company_id: Option<uuid::Uuid>,
    pub approval: Option<Approval>,
    /// `csv` (default) or `xlsx`.
    #[param(pattern = "^(csv|xlsx)$")]
    pub format: Option<String>,
    /// CSV only: start with a UTF-8 byte-order mark, so Excel reads the encoding right.
    pub bom: Option<bool>,
}

fn kind(format: Option<&str>, bom: Option<bool>) -> AppResult<Kind> {
    Ok(match format_param(format, &["csv", "xlsx"])? {
        "xlsx" => Kind::Xlsx,
        _ => Kind::Csv {
            bom: bom.unwrap_or(false),
        },
    })
}

/// Streams `export` (see `exports::download`).
async fn stream(state: &web::Data<AppState>, export: Export) -> AppResult<HttpResponse> {
    let d = state.start_download(export).await?;
    Ok(download_response(
        d.content_type,
        d.disposition,
        d.version,
        d.body,
    ))
}

/// Participation records (column set `participations/2`, see the README) as CSV or XLSX,
/// streamed. HR and admins export everything, coordinators their own sites' events; a
/// `purpose` is required and, with the filters and the row count, goes to the audit log.
/// Text cells starting with `= + - @`, tab or CR are prefixed with `'`.
#[utoipa::path(get, path = "/api/v1/exports/participations", tag = "exports", security(("bearer" = [])),
    params(ParticipationQuery),
    responses((status = 200, description = "The file (text/csv or XLSX)", content_type = "text/csv"),
              (status = 400, description = "No purpose, or bad filters", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Employees, or another site's coordinator", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "Too many exports running, in all or for this person (`exports_busy`); see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn export_participations(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    q: web::Query<ParticipationQuery>,
) -> AppResult<HttpResponse> {
    // Who may export comes first; a site the coordinator does not run is refused with it.
    let q = q.into_inner();
    let request = ParticipationRequest {
        purpose: q.purpose,
        fiscal_year: q.fiscal_year,
        site_id: q.site_id.map(Id::from),
        company_id: q.company_id.map(Id::from),
        approval: q.approval,
    };
    records_scope(&caller, request.site_id)?;
    download::purpose(request.purpose.as_deref())?;
    let kind = kind(q.format.as_deref(), q.bom)?;
    let export = download::participations(&caller, request_id.to_string(), kind, request)?;
    stream(&state, export).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HoursQuery {
    /// Why the data is exported (3 to 500 characters); written to the audit log.
    #[param(min_length = 3, max_length = 500)]
    pub purpose: Option<String>,
    #[param(minimum = 1900, maximum = 2200)]
    pub fiscal_year: i32,
    /// `csv` (default) or `xlsx`.
    #[param(pattern = "^(csv|xlsx)$")]
    pub format: Option<String>,
    pub bom: Option<bool>,
}

/// Per employee, the approved events, hours and person-days of a fiscal year (column set
/// `hours/1`), for volunteer leave and recognition. HR and admins; purpose required; audited.
#[utoipa::path(get, path = "/api/v1/exports/hours", tag = "exports", security(("bearer" = [])),
    params(HoursQuery),
    responses((status = 200, description = "The file (text/csv or XLSX)", content_type = "text/csv"),
              (status = 400, description = "No purpose, or a bad year", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "Too many exports running, in all or for this person (`exports_busy`); see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn export_hours(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    q: web::Query<HoursQuery>,
) -> AppResult<HttpResponse> {
    crate::exports::require_hr(&caller)?;
    let q = q.into_inner();
    download::purpose(q.purpose.as_deref())?;
    let kind = kind(q.format.as_deref(), q.bom)?;
    let export = download::hours(
        &caller,
        request_id.to_string(),
        kind,
        q.purpose.as_deref(),
        q.fiscal_year,
    )?;
    stream(&state, export).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Check the file and report, write nothing.
    pub dry_run: Option<bool>,
}

/// Imports participation history from CSV (`site_code,program_code,program_title,theme,
/// categories,event_date,employee_number,hours`, optionally followed by `days,end_date` for
/// multi-day events: person-days, default 1, and the site-local last day, default the event
/// date; hours up to 24 per day; UTF-8, optional BOM). Missing programmes and events are
/// created; rows land as approved attendance. All or nothing: a rejected file answers 422
/// `import_rejected` with every bad row (`line`, `field`, `code`, `message`).
#[utoipa::path(post, path = "/api/v1/imports/participations", tag = "exports", security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file"),
    responses((status = 200, description = "Imported (or checked, with dry_run)", body = ParticipationReport),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 413, description = "File over server.upload_limit_bytes", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Rejected, with a report of every bad row", body = Problem, content_type = "application/problem+json")))]
pub async fn import_participations(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    q: web::Query<ImportQuery>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    let dry_run = q.dry_run.unwrap_or(false);
    let request_id = request_id.to_string();
    let report = with_conn(&state.pool, move |c| {
        import::import(c, &caller, &body[..], dry_run, Some(request_id), |_, _| {})
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/v1/exports/participations", "GET")
            .route(web::get().to(export_participations)),
    )
    .service(resource("/api/v1/exports/hours", "GET").route(web::get().to(export_hours)))
    .service(
        resource("/api/v1/imports/participations", "POST")
            .route(web::post().to(import_participations)),
    );
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(export_participations, export_hours, import_participations))]
pub struct Doc;
