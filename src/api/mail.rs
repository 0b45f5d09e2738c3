//! Admin view of the outbox: what is queued, what failed and why, and a way to try again.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use tracing_actix_web::RequestId;
use utoipa::IntoParams;

use crate::AppState;
use crate::auth::Caller;
use crate::db::Id;
use crate::error::{AppResult, Problem};
use crate::http::pagination::{self, Page};
use crate::http::{resource, with_conn};
use crate::mail::admin::{self, OutboxItem, OutboxStatus};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    pub status: Option<OutboxStatus>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Queued and sent messages, oldest first (admins).
#[utoipa::path(get, path = "/api/v1/admin/outbox", tag = "mail", security(("bearer" = [])),
    params(OutboxQuery),
    responses((status = 200, description = "A page of messages", body = Page<OutboxItem>),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json")))]
pub async fn list_outbox(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<OutboxQuery>,
) -> AppResult<HttpResponse> {
    // Who may look comes before whether the query is well-formed.
    admin::authorize(&caller)?;
    let q = q.into_inner();
    let limit = pagination::limit(q.limit)?;
    let after = pagination::id_cursor(q.cursor.as_deref())?;
    let rows = with_conn(&state.pool, move |c| {
        admin::list(c, &caller, q.status, after, limit)
    })
    .await?;
    Ok(HttpResponse::Ok().json(pagination::page(rows, limit, |m| m.id.to_string())))
}

/// Queues a dead, cancelled or pending message again, now, with a fresh set of attempts
/// (admins; audited). A message already sent is not sent again (409).
#[utoipa::path(post, path = "/api/v1/admin/outbox/{id}/retry", tag = "mail", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Outbox message id")),
    responses((status = 200, description = "Queued again", body = OutboxItem),
              (status = 403, description = "Not an admin", body = Problem, content_type = "application/problem+json"),
              (status = 404, description = "No such message", body = Problem, content_type = "application/problem+json"),
              (status = 409, description = "Already sent, or being sent", body = Problem, content_type = "application/problem+json")))]
pub async fn retry_outbox(
    state: web::Data<AppState>,
    caller: Caller,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let request_id = request_id.to_string();
    let item = with_conn(&state.pool, move |c| {
        admin::retry(c, &caller, id, &request_id)
    })
    .await?;
    Ok(HttpResponse::Ok().json(item))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/admin/outbox", "GET").route(web::get().to(list_outbox)))
        .service(
            resource("/api/v1/admin/outbox/{id}/retry", "POST").route(web::post().to(retry_outbox)),
        );
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_outbox, retry_outbox), components(schemas(OutboxStatus)))]
pub struct Doc;
