//! HTTP handlers for attendance, check-in, approval, hours and data quality.

use crate::http::resource;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use tracing_actix_web::RequestId;
use utoipa::IntoParams;

use crate::AppState;
use crate::attendance::approval::{self, ApproveRequest, ApproveResult, QueueItem, RejectRequest};
use crate::attendance::checkin::{self, CheckInCode, CheckInRequest};
use crate::attendance::hours::{self, MyHours};
use crate::attendance::model::{Approval, Attendance};
use crate::attendance::quality::{self, QualityReport};
use crate::attendance::roster::{self, RosterMarking, RosterResult};
use crate::auth::Caller;
use crate::db::{Id, Timestamp};
use crate::error::{AppError, AppResult, Problem};
use crate::http::json::Json;
use crate::http::pagination::{self, Page};
use crate::http::{format_param, with_conn};
use crate::org::sites::Region;
use crate::programs::records_scope;
use crate::stats::rollup;
use crate::time::checked_year;

/// Records attendance from the roster: one line per employee (attended with minutes and
/// person-days, or no-show). Listed employees get exactly these values; others keep theirs.
/// Sending the same list again changes nothing. A changed record needs approval again; a change
/// to an approved or rejected one is written to the audit log with its before and after.
#[utoipa::path(put, path = "/api/v1/events/{id}/attendance", tag = "attendance", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id")),
    request_body = RosterMarking,
    responses((status = 200, description = "Recorded", body = RosterResult),
              (status = 403, description = "Not a coordinator of the event's site", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such event", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Event cancelled, a draft, or not started yet", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Invalid lines (field `entries[i].minutes` ...)", body = Problem, content_type = "application/problem+json")))]
pub async fn mark_attendance(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    body: Json<RosterMarking>,
) -> AppResult<HttpResponse> {
    let event = Id::from(id.into_inner());
    let settings = state.settings.attendance.clone();
    let body = body.into_inner();
    let result = with_conn(&state.pool, move |c| {
        roster::mark(
            c,
            &caller,
            event,
            &body,
            Some(request_id.to_string()),
            &settings,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(result))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CodeQuery {
    /// `json` (default) or `svg` (the QR code as an image).
    #[param(pattern = "^(json|svg)$")]
    pub format: Option<String>,
}

fn code_response(code: CheckInCode, svg: bool) -> AppResult<HttpResponse> {
    if svg {
        Ok(HttpResponse::Ok()
            .content_type("image/svg+xml")
            .insert_header(("Cache-Control", "no-store"))
            .body(code.svg()?))
    } else {
        Ok(HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(code))
    }
}

/// The event's check-in code for the coordinator to show, with the window it works in; as a QR
/// code image with `format=svg`. Created on first request.
#[utoipa::path(get, path = "/api/v1/events/{id}/check-in-code", tag = "attendance", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id"), CodeQuery),
    responses((status = 200, description = "The code (JSON), or the QR code (`image/svg+xml`)", body = CheckInCode),
              (status = 403, description = "Not a coordinator of the event's site", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Event cancelled or a draft", body = Problem, content_type = "application/problem+json")))]
pub async fn check_in_code(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    q: web::Query<CodeQuery>,
) -> AppResult<HttpResponse> {
    let svg = format_param(q.format.as_deref(), &["json", "svg"])? == "svg";
    let event = Id::from(id.into_inner());
    let settings = state.settings.attendance.clone();
    let base = state.settings.server.public_base();
    let code = with_conn(&state.pool, move |c| {
        checkin::code(c, &caller, event, false, &settings, &base)
    })
    .await?;
    code_response(code, svg)
}

/// Replaces the event's check-in code (one that was shared too widely); the old one stops
/// working at once.
#[utoipa::path(post, path = "/api/v1/events/{id}/check-in-code", tag = "attendance", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id")),
    responses((status = 200, description = "The new code", body = CheckInCode),
              (status = 403, description = "Not a coordinator of the event's site", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Event cancelled or a draft", body = Problem, content_type = "application/problem+json")))]
pub async fn rotate_check_in_code(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let event = Id::from(id.into_inner());
    let settings = state.settings.attendance.clone();
    let base = state.settings.server.public_base();
    let code = with_conn(&state.pool, move |c| {
        checkin::code(c, &caller, event, true, &settings, &base)
    })
    .await?;
    code_response(code, false)
}

/// Checks the caller in with the code shown at the event: a pending attendance for their
/// confirmed sign-up, or (when walk-ins are allowed and seats are free) a seat and the
/// attendance together. Checking in again returns the first record with 200.
#[utoipa::path(post, path = "/api/v1/events/{id}/check-in", tag = "attendance", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id")),
    request_body = CheckInRequest,
    responses((status = 201, description = "Checked in (pending approval)", body = Attendance),
              (status = 200, description = "Already checked in", body = Attendance),
              (status = 404, description = "No such event", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Outside the check-in window, cancelled, waitlisted, not signed up, or full", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Wrong code", body = Problem, content_type = "application/problem+json"),
              (status = 429, description = "Too many check-in attempts for this event; see Retry-After", body = Problem, content_type = "application/problem+json")))]
pub async fn check_in(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
    body: Json<CheckInRequest>,
) -> AppResult<HttpResponse> {
    let event = Id::from(id.into_inner());
    // Every attempt counts, so an event's code cannot be found by trying (per instance).
    state.check_in_limiter.check(caller.id, event)?;
    let settings = state.settings.attendance.clone();
    let code = body.into_inner().code;
    let (record, created) = with_conn(&state.pool, move |c| {
        checkin::check_in(c, &caller, event, &code, &settings)
    })
    .await?;
    Ok(if created {
        HttpResponse::Created().json(record)
    } else {
        HttpResponse::Ok().json(record)
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AttendanceQuery {
    /// `pending` for the approval queue.
    pub approval: Option<Approval>,
    pub event_id: Option<uuid::Uuid>,
    pub site_id: Option<uuid::Uuid>,
    /// Events starting (site-local date) in this fiscal year.
    #[param(minimum = 1900, maximum = 2200)]
    pub fiscal_year: Option<i32>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Attendance records, oldest first: coordinators see their sites', HR and admins everyone's.
#[utoipa::path(get, path = "/api/v1/attendance", tag = "attendance", security(("bearer" = [])),
    params(AttendanceQuery),
    responses((status = 200, description = "A page of records", body = Page<QueueItem>),
              (status = 403, description = "Employees, or a site the coordinator does not run", body = Problem, content_type = "application/problem+json")))]
pub async fn list_attendance(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<AttendanceQuery>,
) -> AppResult<HttpResponse> {
    let site_id = q.site_id.map(Id::from);
    let sites = records_scope(&caller, site_id)?;
    let q = q.into_inner();
    let limit = pagination::limit(q.limit)?;
    let filter = approval::ListFilter {
        id: None,
        approval: q.approval,
        event_id: q.event_id.map(Id::from),
        site_id,
        fiscal_year: q
            .fiscal_year
            .map(|fy| crate::time::checked_year("fiscal_year", fy))
            .transpose()?,
        sites,
        after: pagination::id_cursor(q.cursor.as_deref())?,
        limit,
    };
    let rows = with_conn(&state.pool, move |c| approval::list(c, &filter)).await?;
    Ok(HttpResponse::Ok().json(pagination::page(rows, limit, |r| {
        r.attendance.id.to_string()
    })))
}

/// Approves pending records (all or none). Approving one already approved changes nothing;
/// one of another site is 404, the caller's own 403 `own_attendance`.
#[utoipa::path(post, path = "/api/v1/attendance/approve", tag = "attendance", security(("bearer" = [])),
    request_body = ApproveRequest,
    responses((status = 200, description = "Approved", body = ApproveResult),
              (status = 403, description = "Not an approver, or the caller's own hours", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "An id the caller cannot see", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "A rejected record (record it again to reconsider)", body = Problem, content_type = "application/problem+json")))]
pub async fn approve_attendance(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    body: Json<ApproveRequest>,
) -> AppResult<HttpResponse> {
    let ids: Vec<Id> = body.into_inner().ids.into_iter().map(Id::from).collect();
    let result = with_conn(&state.pool, move |c| {
        approval::approve(c, &caller, &ids, Some(request_id.to_string()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(result))
}

/// Rejects a pending or approved record with a reason the employee sees.
#[utoipa::path(post, path = "/api/v1/attendance/{id}/reject", tag = "attendance", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Attendance id")),
    request_body = RejectRequest,
    responses((status = 200, description = "Rejected", body = Attendance),
              (status = 403, description = "Not an approver, or the caller's own hours", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such record (or another site's)", body = Problem, content_type = "application/problem+json"),
              (status = 422, description = "Missing reason", body = Problem, content_type = "application/problem+json")))]
pub async fn reject_attendance(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    body: Json<RejectRequest>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let reason = body.into_inner().reason;
    let record = with_conn(&state.pool, move |c| {
        approval::reject(c, &caller, id, &reason, Some(request_id.to_string()))
    })
    .await?;
    Ok(HttpResponse::Ok().json(record))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HoursQuery {
    /// Only this fiscal year's items (totals always cover every year).
    #[param(minimum = 1900, maximum = 2200)]
    pub fiscal_year: Option<i32>,
    /// `json` (default) or `csv`: the items as a file (the employee's own hours are the one
    /// export every employee may make).
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
    /// CSV: start with a byte-order mark (Excel then reads UTF-8).
    pub bom: Option<bool>,
}

/// The caller's volunteer history, newest first, with totals per fiscal year (approved hours
/// count; pending shown apart).
#[utoipa::path(get, path = "/api/v1/me/hours", tag = "attendance", security(("bearer" = [])),
    params(HoursQuery),
    responses((status = 200, description = "History and totals", body = MyHours)))]
pub async fn my_hours(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<HoursQuery>,
) -> AppResult<HttpResponse> {
    if let Some(fy) = q.fiscal_year {
        checked_year("fiscal_year", fy)?;
    }
    let csv = format_param(q.format.as_deref(), &["json", "csv"])? == "csv";
    let year = q.fiscal_year;
    let result = with_conn(&state.pool, move |c| {
        let fiscal = rollup::calendar(c)?;
        hours::of_user(c, caller.id, fiscal, year)
    })
    .await?;
    if csv {
        return Ok(HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                "Content-Disposition",
                "attachment; filename=\"my-volunteer-hours.csv\"",
            ))
            .body(hours::csv(&result.items, q.bom.unwrap_or(false)).map_err(AppError::internal)?));
    }
    Ok(HttpResponse::Ok().json(result))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct QualityQuery {
    /// Default: the current fiscal year.
    #[param(minimum = 1900, maximum = 2200)]
    pub fiscal_year: Option<i32>,
    pub site_id: Option<uuid::Uuid>,
    pub company_id: Option<uuid::Uuid>,
    pub region: Option<Region>,
}

/// Data-quality findings of a fiscal year: every check with severity, count and sample ids.
/// Coordinators see their own sites', HR and admins any scope.
#[utoipa::path(get, path = "/api/v1/quality", tag = "attendance", security(("bearer" = [])),
    params(QualityQuery),
    responses((status = 200, description = "The findings", body = QualityReport),
              (status = 403, description = "Employees, or a site the coordinator does not run", body = Problem, content_type = "application/problem+json")))]
pub async fn quality(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<QualityQuery>,
) -> AppResult<HttpResponse> {
    let site_id = q.site_id.map(Id::from);
    let sites = records_scope(&caller, site_id)?;
    let q = q.into_inner();
    let now = Timestamp::now();
    let given_year = q
        .fiscal_year
        .map(|fy| checked_year("fiscal_year", fy))
        .transpose()?;
    let scope = quality::Scope {
        site_id,
        company_id: q.company_id.map(Id::from),
        region: q.region.map(|r| r.as_str().to_owned()),
        sites,
    };
    let report = with_conn(&state.pool, move |c| {
        quality::report_for(c, given_year, &scope, now)
    })
    .await?;
    Ok(HttpResponse::Ok()
        .insert_header(ContentType::json())
        .json(report))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/v1/events/{id}/attendance", "PUT").route(web::put().to(mark_attendance)),
    )
    .service(
        resource("/api/v1/events/{id}/check-in-code", "GET, POST")
            .route(web::get().to(check_in_code))
            .route(web::post().to(rotate_check_in_code)),
    )
    .service(resource("/api/v1/events/{id}/check-in", "POST").route(web::post().to(check_in)))
    .service(resource("/api/v1/attendance", "GET").route(web::get().to(list_attendance)))
    .service(
        resource("/api/v1/attendance/approve", "POST").route(web::post().to(approve_attendance)),
    )
    .service(
        resource("/api/v1/attendance/{id}/reject", "POST").route(web::post().to(reject_attendance)),
    )
    .service(resource("/api/v1/me/hours", "GET").route(web::get().to(my_hours)))
    .service(resource("/api/v1/quality", "GET").route(web::get().to(quality)));
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    mark_attendance,
    check_in_code,
    rotate_check_in_code,
    check_in,
    list_attendance,
    approve_attendance,
    reject_attendance,
    my_hours,
    quality
))]
pub struct Doc;
