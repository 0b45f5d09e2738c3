//! The audit log, read newest first (over `exports::audit_trail`, which decides who sees what).

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::audit::{Filter, Logged};
use crate::auth::Caller;
use crate::db::{Id, Timestamp};
use crate::error::{AppResult, Problem};
use crate::http::pagination::{self, Page};
use crate::http::{resource, with_conn};
use crate::time::Bound;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Exact action, e.g. `export.participations`, `user.access_changed`.
    pub action: Option<String>,
    /// e.g. `user`, `attendance`, `export`.
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<uuid::Uuid>,
    /// From this instant (RFC 3339) or day (`YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// Before this instant, or up to and including this day (UTC).
    pub to: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn instant(b: Bound, end: bool) -> Timestamp {
    match b {
        Bound::At(t) => Timestamp::from(t),
        Bound::Day(d) => {
            let day = if end { d.succ_opt().unwrap_or(d) } else { d };
            Timestamp::from(day.and_time(chrono::NaiveTime::MIN).and_utc())
        }
    }
}

/// Who did what, newest first: admins read every entry, HR the exports (with their purpose,
/// filters and row count) and imports; everyone else 403.
#[utoipa::path(get, path = "/api/v1/audit", tag = "people", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, description = "A page of entries, newest first", body = Page<Logged>),
              (status = 400, description = "A bad filter or cursor", body = Problem, content_type = "application/problem+json"),
              (status = 403, description = "Not an admin or HR", body = Problem, content_type = "application/problem+json")))]
pub async fn list_audit(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<AuditQuery>,
) -> AppResult<HttpResponse> {
    let q = q.into_inner();
    let limit = pagination::limit(q.limit)?;
    let from = q
        .from
        .as_deref()
        .map(|t| Bound::parse("from", t))
        .transpose()?;
    let to = q.to.as_deref().map(|t| Bound::parse("to", t)).transpose()?;
    let filter = Filter {
        action_prefixes: None,
        action: q.action,
        entity_type: q.entity_type,
        entity_id: q.entity_id,
        actor_id: q.actor_id.map(Id::from),
        from: from.map(|b| instant(b, false)),
        to: to.map(|b| instant(b, true)),
        before: pagination::id_cursor(q.cursor.as_deref())?,
        limit,
    };
    let rows = with_conn(&state.pool, move |c| {
        crate::exports::audit_trail(c, &caller, filter)
    })
    .await?;
    Ok(HttpResponse::Ok().json(pagination::page(rows, limit, |e| e.id.to_string())))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/audit", "GET").route(web::get().to(list_audit)));
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_audit))]
pub struct Doc;
