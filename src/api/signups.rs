//! HTTP handlers for sign-ups and rosters.

use crate::http::resource;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::{Caller, Role};
use crate::db::Id;
use crate::db::schema::{signups, users};
use crate::error::{AppError, AppResult, Problem};
use crate::http::idempotency;
use crate::http::json::Json;
use crate::http::pagination::{self, Page};
use crate::http::with_conn;
use crate::programs::events;
use crate::programs::events::visible;
use crate::programs::require_runs_site;
use crate::signups::service::{self, Signup, SignupRow, SignupStatus};

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
    caller: Caller,
    req: HttpRequest,
    id: web::Path<uuid::Uuid>,
    body: Json<SignupRequest>,
) -> AppResult<HttpResponse> {
    let event_id = Id::from(id.into_inner());
    let body = body.into_inner();
    let (user_id, force) = (body.user_id, body.force);
    let by = caller.id;
    idempotency::create(
        &state,
        &req,
        caller.id,
        &body,
        StatusCode::CREATED,
        move |c| {
            let user = user_id.map(Id::from).unwrap_or(caller.id);
            let req = service::Request {
                event: event_id,
                user,
                by,
                force,
            };
            service::sign_up(c, &req, |event| {
                if !visible(&caller, event) {
                    return Err(AppError::not_found("no such event"));
                }
                if user != caller.id || force {
                    require_runs_site(&caller, event.site_id.into())?;
                }
                Ok(())
            })
        },
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
    let signup = with_conn(&state.pool, move |c| {
        let signup = service::find(c, id)?;
        let event = events::find(c, signup.event_id.into())?;
        let runs = caller.coordinates(event.site_id.into());
        let own = Id::from(signup.user_id) == caller.id;
        if !runs && !own {
            return Err(AppError::not_found("no such sign-up"));
        }
        if !runs {
            let deadline = event.cancel_deadline.unwrap_or(event.starts_at);
            if chrono::Utc::now() >= deadline {
                return Err(AppError::conflict(
                    "cancel_closed",
                    "the cancellation deadline has passed; ask the event's coordinator",
                ));
            }
        }
        service::cancel(c, id, caller.id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(signup))
}

/// One line of a roster.
#[derive(Debug, Serialize, ToSchema)]
pub struct RosterEntry {
    pub signup_id: uuid::Uuid,
    pub status: SignupStatus,
    pub waitlist_position: Option<i32>,
    pub user_id: uuid::Uuid,
    pub employee_number: String,
    pub display_name: String,
    pub email: String,
    pub signed_up_at: chrono::DateTime<chrono::Utc>,
    pub cancelled_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct RosterQuery {
    /// `json` (default) or `csv`.
    #[param(pattern = "^(json|csv)$")]
    pub format: Option<String>,
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
    let (event, entries) = with_conn(&state.pool, move |c| {
        let event = events::find(c, event_id)?;
        if !visible(&caller, &event) {
            return Err(AppError::not_found("no such event"));
        }
        if caller.role != Role::Hr {
            require_runs_site(&caller, event.site_id.into())?;
        }
        let rows: Vec<(SignupRow, (String, String, String))> = signups::table
            .inner_join(users::table.on(users::id.eq(signups::user_id)))
            .filter(signups::event_id.eq(event_id))
            .select((
                SignupRow::as_select(),
                (users::employee_number, users::display_name, users::email),
            ))
            .load(c)?;
        let mut entries: Vec<RosterEntry> = rows
            .into_iter()
            .map(|(s, (number, name, email))| {
                Ok(RosterEntry {
                    signup_id: s.id.into(),
                    status: SignupStatus::parse(&s.status)?,
                    waitlist_position: s.waitlist_position,
                    user_id: s.user_id.into(),
                    employee_number: number,
                    display_name: name,
                    email,
                    signed_up_at: s.created_at.into(),
                    cancelled_at: s.cancelled_at.map(Into::into),
                })
            })
            .collect::<AppResult<_>>()?;
        let rank = |s: SignupStatus| match s {
            SignupStatus::Confirmed => 0,
            SignupStatus::Waitlisted => 1,
            SignupStatus::Cancelled => 2,
        };
        entries.sort_by_key(|e| (rank(e.status), e.waitlist_position, e.signed_up_at));
        Ok((event, entries))
    })
    .await?;
    if !csv {
        return Ok(HttpResponse::Ok().json(entries));
    }
    let mut out = String::from(
        "status,waitlist_position,employee_number,display_name,email,signed_up_at,cancelled_at\r\n",
    );
    for e in &entries {
        let fields = [
            e.status.as_str().to_owned(),
            e.waitlist_position
                .map(|p| p.to_string())
                .unwrap_or_default(),
            e.employee_number.clone(),
            e.display_name.clone(),
            e.email.clone(),
            e.signed_up_at.to_rfc3339(),
            e.cancelled_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
        ];
        let line: Vec<String> = fields.iter().map(|f| csv_cell(f)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"roster-{}.csv\"", event.id),
        ))
        .body(out))
}

/// One RFC 4180 cell, with spreadsheet formulas neutralised (a leading `= + - @`, tab or CR
/// gets a `'` so Excel shows text instead of running it).
pub fn csv_cell(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
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
    responses((status = 200, description = "A page of the caller's sign-ups", body = Page<Signup>)))]
pub async fn my_signups(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<MySignupsQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let limit = pagination::limit(q.limit)?;
    let before = pagination::id_cursor(q.cursor.as_deref())?;
    let rows = with_conn(&state.pool, move |c| {
        let mut query = signups::table
            .filter(signups::user_id.eq(caller.id))
            .select(SignupRow::as_select())
            .into_boxed();
        if let Some(s) = q.status {
            query = query.filter(signups::status.eq(s.as_str()));
        }
        if let Some(b) = before {
            query = query.filter(signups::id.lt(b));
        }
        let rows: Vec<SignupRow> = query.order(signups::id.desc()).limit(limit + 1).load(c)?;
        rows.into_iter()
            .map(Signup::try_from)
            .collect::<AppResult<Vec<_>>>()
    })
    .await?;
    Ok(HttpResponse::Ok().json(pagination::page(rows, limit, |s| s.id.to_string())))
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

#[cfg(test)]
mod tests {
    use super::csv_cell;

    #[test]
    fn csv_cells_are_quoted_and_formulas_neutralised() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("=1+1"), "'=1+1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-5"), "'-5");
    }
}
