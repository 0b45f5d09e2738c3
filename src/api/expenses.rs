//! HTTP handlers for the social contribution expenses ledger (`contributions`): HR and
//! administrators keep it; everyone signed in reads the year's totals.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use tracing_actix_web::RequestId;
use utoipa::IntoParams;

use crate::AppState;
use crate::api::exports::ImportQuery;
use crate::api::stats::{FiguresQuery, one_view};
use crate::auth::{Caller, Role};
use crate::contributions::{self as expenses, Expense, ExpenseImportReport, NewExpense, Totals};
use crate::error::{AppResult, Problem};
use crate::http::json::Deferred;
use crate::http::pagination::{self, Page};
use crate::http::{resource, with_conn};
use crate::stats::closing;
use crate::time::checked_year;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExpenseQuery {
    #[param(minimum = 1900, maximum = 2200)]
    pub fiscal_year: i32,
    /// 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A fiscal year's ledger lines, oldest first (HR and admins).
#[utoipa::path(get, path = "/api/v1/expenses", tag = "statistics", security(("bearer" = [])),
    params(ExpenseQuery),
    responses((status = 200, description = "One page of lines", body = Page<Expense>),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json")))]
pub async fn list_expenses(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ExpenseQuery>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin])?;
    let fy = checked_year("fiscal_year", q.fiscal_year)?;
    let limit = pagination::limit(q.limit)?;
    let after = pagination::id_cursor(q.cursor.as_deref())?;
    let rows = with_conn(&state.pool, move |c| {
        expenses::list(c, &caller, fy, after, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(pagination::page(rows, limit, |e| e.id.to_string())))
}

/// Adds a line (HR and admins; audited): financial assistance with `amount_yen`, or products
/// and facilities with `quantity` × `unit_price_yen` (a facility's quantity in hours, its price
/// that of an equivalent outside facility per hour).
#[utoipa::path(post, path = "/api/v1/expenses", tag = "statistics", security(("bearer" = [])),
    request_body = NewExpense,
    responses((status = 201, description = "Added, with its value in yen", body = Expense),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "A field is wrong for the kind, an unknown area or site", body = Problem, content_type = "application/problem+json")))]
pub async fn create_expense(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    body: Deferred<NewExpense>,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin])?;
    let input = body.parse()?;
    let request_id = request_id.to_string();
    let created = with_conn(&state.pool, move |c| {
        expenses::create(c, &caller, &input, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

/// Imports ledger lines from CSV (`fiscal_year,kind,area,site_code,description,amount_yen,
/// quantity,unit_price_yen`; UTF-8, optional BOM) all or nothing: a rejected file answers 422
/// `import_rejected` with every bad line (`line`, `field`, `code`, `message`).
#[utoipa::path(post, path = "/api/v1/expenses/import", tag = "statistics", security(("bearer" = [])),
    params(ImportQuery),
    request_body(content = String, content_type = "text/csv", description = "The CSV file"),
    responses((status = 200, description = "Imported (or checked, with dry_run)", body = ExpenseImportReport),
              (status = 403, description = "Not HR or an admin", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Rejected, with every bad line", body = Problem, content_type = "application/problem+json")))]
pub async fn import_expenses(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    q: web::Query<ImportQuery>,
    body: web::Bytes,
) -> AppResult<HttpResponse> {
    caller.require(&[Role::Hr, Role::Admin])?;
    let dry_run = q.dry_run.unwrap_or(false);
    let request_id = request_id.to_string();
    let report = with_conn(&state.pool, move |c| {
        expenses::import(c, &caller, &body, dry_run, Some(request_id))
    })
    .await?;
    Ok(HttpResponse::Ok().json(report))
}

/// The year's contribution expenses summed exactly, by kind, area and company, with the total
/// as the report prints it (every signed-in user reads aggregates); a closed year's as
/// published unless `figures=current`.
#[utoipa::path(get, path = "/api/v1/expenses/{fy}/totals", tag = "statistics", security(("bearer" = [])),
    params(("fy" = i32, Path, minimum = 1900, maximum = 2200, description = "Fiscal year"), FiguresQuery),
    responses((status = 200, description = "The totals", body = Totals)))]
pub async fn expense_totals(
    state: web::Data<AppState>,
    _caller: Caller,
    fy: web::Path<i32>,
    q: web::Query<FiguresQuery>,
) -> AppResult<HttpResponse> {
    let fy = checked_year("fiscal year", fy.into_inner())?;
    let view = one_view(q.figures.as_deref())?;
    let totals = with_conn(&state.pool, move |c| closing::expenses_as(c, fy, view)).await?;
    Ok(HttpResponse::Ok().json(totals))
}

/// This module's routes (mounted by `api::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/v1/expenses", "GET, POST")
            .route(web::get().to(list_expenses))
            .route(web::post().to(create_expense)),
    )
    .service(resource("/api/v1/expenses/import", "POST").route(web::post().to(import_expenses)))
    .service(resource("/api/v1/expenses/{fy}/totals", "GET").route(web::get().to(expense_totals)));
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_expenses, create_expense, import_expenses, expense_totals))]
pub struct Doc;
