//! HTTP handler for the annual report's section (`report_section`).

use actix_web::{HttpResponse, web};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{AppResult, Problem};
use crate::http::{resource, with_conn};
use crate::report_section::{self, ReportSection};
use crate::time::checked_year;

/// A fiscal year's section of the annual report: the table for the year and the two before with
/// changes, the biodiversity and disaster-relief lines, the implementation rate against its
/// target, the objectives table, the award winners and the contribution expenses. Closed years
/// as published.
#[utoipa::path(get, path = "/api/v1/report-section/{fy}", tag = "statistics", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year")),
    responses((status = 200, description = "The section", body = ReportSection),
              (status = 400, description = "A year out of range", body = Problem, content_type = "application/problem+json")))]
pub async fn report_section(
    state: web::Data<AppState>,
    _caller: Caller,
    fy: web::Path<i32>,
) -> AppResult<HttpResponse> {
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let section = with_conn(&state.pool, move |c| report_section::section(c, fy)).await?;
    Ok(HttpResponse::Ok().json(section))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/v1/report-section/{fy}", "GET").route(web::get().to(report_section)),
    );
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(report_section))]
pub struct Doc;
