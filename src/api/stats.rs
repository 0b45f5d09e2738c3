//! HTTP handlers for the statistics: every signed-in user reads aggregates; objectives are set
//! by HR and admins.

use crate::http::resource;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use tracing_actix_web::RequestId;
use utoipa::IntoParams;

use crate::AppState;
use crate::api::extract::read_as;
use crate::auth::Caller;
use crate::auth::caller::Bearer;
use crate::db::Id;
use crate::error::{AppError, AppResult, Problem};
use crate::http::json::Deferred;
use crate::http::{format_param, with_conn};
use crate::org::sites::Region;
use crate::sheet::Kind;
use crate::stats::breakdown::{self, Breakdown, By};
use crate::stats::closing::{self, View};
use crate::stats::mdd::Scope;
use crate::stats::objectives::{self, Objectives, ObjectivesInput};
use crate::stats::report::{self, MddReport};
use crate::stats::rollup;
use crate::time::checked_year;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MddQuery {
    /// First fiscal year (default: two before `to`).
    #[param(minimum = 1900, maximum = 2200)]
    pub from: Option<i32>,
    /// Last fiscal year (default: the last completed one; the current year, asked for, is
    /// marked `in_progress` and compared with the same months of the year before).
    #[param(minimum = 1900, maximum = 2200)]
    pub to: Option<i32>,
    /// At most one of site_id, company_id, region.
    pub site_id: Option<uuid::Uuid>,
    pub company_id: Option<uuid::Uuid>,
    pub region: Option<Region>,
    /// `json` (default), `csv` or `xlsx` (the report table) or `svg` (a chart).
    #[param(pattern = "^(json|csv|xlsx|svg)$")]
    pub format: Option<String>,
    /// CSV: start with a byte-order mark (Excel then reads UTF-8).
    pub bom: Option<bool>,
    /// SVG: the chart's language, `en` (default) or `ja`.
    #[param(pattern = "^(en|ja)$")]
    pub lang: Option<String>,
    /// Closed years: `published` (default; the last published version), `current` (as the
    /// records are now) or `both` (published, with `current` and `differences`).
    #[param(pattern = "^(published|current|both)$")]
    pub figures: Option<String>,
}

/// The annual-report figures per fiscal year with the change on the year before. Counted from
/// summary tables kept in step with every change, so the answer never scans raw attendance.
#[utoipa::path(get, path = "/api/v1/stats/mdd", tag = "statistics", security(("bearer" = [])),
    params(MddQuery),
    responses((status = 200, description = "The figures (JSON; CSV with format=csv, XLSX with format=xlsx; SVG with format=svg)", body = MddReport),
              (status = 400, description = "Bad years, several scopes or an unknown format", body = Problem, content_type = "application/problem+json")))]
pub async fn mdd_report(
    state: web::Data<AppState>,
    bearer: Bearer,
    q: web::Query<MddQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let format = format_param(q.format.as_deref(), &["json", "csv", "xlsx", "svg"])?;
    let scope = Scope {
        site_id: q.site_id.map(Id::from),
        company_id: q.company_id.map(Id::from),
        region: q.region.map(|r| r.as_str().to_owned()),
    };
    let (to, from) = (q.to, q.from);
    let lang = crate::http::choice_param("lang", q.lang.as_deref(), &["en", "ja"])?;
    let view = View::parse(q.figures.as_deref())?;
    let selected = read_as(
        &state,
        bearer,
        |_| true,
        move |c, _| report::select(c, &scope, from, to, view),
    )
    .await?;
    let (fiscal, from, to) = (selected.fiscal, selected.from, selected.to);
    let years = selected.report();
    match format {
        "csv" => Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"mdd-fy{from}-fy{to}.csv\""),
            ))
            .body(report::csv(&years, q.bom.unwrap_or(false)).map_err(AppError::internal)?)),
        "xlsx" => Ok(HttpResponse::Ok()
            .content_type(Kind::Xlsx.content_type())
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"mdd-fy{from}-fy{to}.xlsx\""),
            ))
            .body(report::sheet(&years, Kind::Xlsx).map_err(AppError::internal)?)),
        "svg" => {
            let lang = report::Lang::parse(Some(lang));
            Ok(HttpResponse::Ok()
                .content_type("image/svg+xml")
                .body(report::svg(&years, &report::title(from, to, lang), lang)))
        }
        _ => Ok(HttpResponse::Ok().json(MddReport {
            fiscal_year_start_month: fiscal.start_month(),
            from,
            to,
            site_id: q.site_id,
            company_id: q.company_id,
            region: q.region.map(|r| r.as_str().to_owned()),
            years,
        })),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BreakdownQuery {
    pub by: By,
    /// `json` (default), `csv` or `xlsx`.
    #[param(pattern = "^(json|csv|xlsx)$")]
    pub format: Option<String>,
    /// CSV: start with a byte-order mark (Excel then reads UTF-8).
    pub bom: Option<bool>,
    /// A closed year: `published` (default) or `current`.
    #[param(pattern = "^(published|current)$")]
    pub figures: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct FiguresQuery {
    /// A closed year: `published` (default) or `current`.
    #[param(pattern = "^(published|current)$")]
    pub figures: Option<String>,
}

/// `published` or `current` (breakdowns and objectives have no side-by-side view).
pub fn one_view(given: Option<&str>) -> AppResult<View> {
    crate::http::choice_param("figures", given, &["published", "current"])?;
    View::parse(given)
}

/// One fiscal year's figures per site, company, region, theme, category or month: every group,
/// those with nothing recorded included, with the year's `total` (see `Breakdown`).
#[utoipa::path(get, path = "/api/v1/stats/mdd/{fy}/breakdown", tag = "statistics", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year"), BreakdownQuery),
    responses((status = 200, description = "The groups (JSON; CSV with format=csv, XLSX with format=xlsx)", body = Breakdown),
              (status = 400, description = "Bad year or grouping", body = Problem, content_type = "application/problem+json")))]
pub async fn mdd_breakdown(
    state: web::Data<AppState>,
    bearer: Bearer,
    fy: web::Path<i32>,
    q: web::Query<BreakdownQuery>,
) -> AppResult<HttpResponse> {
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let format = format_param(q.format.as_deref(), &["json", "csv", "xlsx"])?;
    let by = q.by;
    let view = one_view(q.figures.as_deref())?;
    let result = read_as(
        &state,
        bearer,
        |_| true,
        move |c, _| {
            let fiscal = rollup::calendar(c)?;
            closing::breakdown_as(c, fiscal, fy, by, view)
        },
    )
    .await?;
    if format != "json" {
        let by_name = serde_json::to_value(by)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let kind = match format {
            "xlsx" => Kind::Xlsx,
            _ => Kind::Csv {
                bom: q.bom.unwrap_or(false),
            },
        };
        return Ok(HttpResponse::Ok()
            .content_type(kind.content_type())
            .insert_header((
                "Content-Disposition",
                format!(
                    "attachment; filename=\"mdd-fy{fy}-by-{by_name}.{}\"",
                    kind.extension()
                ),
            ))
            .body(breakdown::sheet(&result, kind).map_err(AppError::internal)?));
    }
    Ok(HttpResponse::Ok().json(result))
}

/// The year's objectives with the actual figures and their grades.
#[utoipa::path(get, path = "/api/v1/objectives/{fy}", tag = "statistics", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year"), FiguresQuery),
    responses((status = 200, description = "Objectives and grades (a closed year's as published unless figures=current)", body = Objectives)))]
pub async fn get_objectives(
    state: web::Data<AppState>,
    _caller: Caller,
    fy: web::Path<i32>,
    q: web::Query<FiguresQuery>,
) -> AppResult<HttpResponse> {
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let view = one_view(q.figures.as_deref())?;
    let result = with_conn(&state.pool, move |c| {
        let fiscal = rollup::calendar(c)?;
        closing::objectives_as(c, fiscal, fy, view)
    })
    .await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Replaces the year's objectives (HR and admins): per figure a `target` value or a
/// `yoy_percent` growth on the year before. Audited.
#[utoipa::path(put, path = "/api/v1/objectives/{fy}", tag = "statistics", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year")),
    request_body = ObjectivesInput,
    responses((status = 200, description = "Saved; the objectives with grades", body = Objectives),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid objectives", body = Problem, content_type = "application/problem+json")))]
pub async fn put_objectives(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    fy: web::Path<i32>,
    body: Deferred<ObjectivesInput>,
) -> AppResult<HttpResponse> {
    // Who may set objectives comes before whether the year is in range.
    objectives::require_editor(&caller)?;
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let input = body.parse()?;
    let request_id = request_id.to_string();
    let result = with_conn(&state.pool, move |c| {
        objectives::set_as(c, &caller, fy, &input, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(result))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/stats/mdd", "GET").route(web::get().to(mdd_report)))
        .service(
            resource("/api/v1/stats/mdd/{fy}/breakdown", "GET").route(web::get().to(mdd_breakdown)),
        )
        .service(
            resource("/api/v1/objectives/{fy}", "GET, PUT")
                .route(web::get().to(get_objectives))
                .route(web::put().to(put_objectives)),
        );
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(mdd_report, mdd_breakdown, get_objectives, put_objectives))]
pub struct Doc;
