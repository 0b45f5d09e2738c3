//! Admin view of the outbox: what is queued, what failed and why, and a way to try again.

use crate::http::resource;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing_actix_web::RequestId;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::audit;
use crate::auth::{Caller, Role};
use crate::db::schema::outbox;
use crate::db::{Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, Problem};
use crate::http::pagination::{self, Page};
use crate::http::with_conn;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutboxStatus {
    Pending,
    Sending,
    Sent,
    Dead,
    Cancelled,
}

impl OutboxStatus {
    fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Sending => "sending",
            OutboxStatus::Sent => "sent",
            OutboxStatus::Dead => "dead",
            OutboxStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = outbox)]
struct Row {
    id: Id,
    kind: String,
    dedupe_key: String,
    to_address: String,
    status: String,
    attempts: i32,
    next_attempt_at: Timestamp,
    last_error: Option<String>,
    sent_at: Option<Timestamp>,
    created_at: Timestamp,
}

/// A queued message (its body is rendered only when sent).
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxItem {
    pub id: uuid::Uuid,
    pub kind: String,
    pub dedupe_key: String,
    pub to_address: String,
    /// pending, sending, sent, dead or cancelled.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Row> for OutboxItem {
    fn from(r: Row) -> OutboxItem {
        OutboxItem {
            id: r.id.into(),
            kind: r.kind,
            dedupe_key: r.dedupe_key,
            to_address: r.to_address,
            status: r.status,
            attempts: r.attempts,
            next_attempt_at: r.next_attempt_at.into(),
            last_error: r.last_error,
            sent_at: r.sent_at.map(Into::into),
            created_at: r.created_at.into(),
        }
    }
}

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
    caller.require(&[Role::Admin])?;
    let q = q.into_inner();
    let limit = pagination::limit(q.limit)?;
    let after = pagination::id_cursor(q.cursor.as_deref())?;
    let rows = with_conn(&state.pool, move |c| {
        let mut query = outbox::table.select(Row::as_select()).into_boxed();
        if let Some(s) = q.status {
            query = query.filter(outbox::status.eq(s.as_str()));
        }
        if let Some(a) = after {
            query = query.filter(outbox::id.gt(a));
        }
        let rows: Vec<Row> = query.order(outbox::id).limit(limit + 1).load(c)?;
        Ok(rows.into_iter().map(OutboxItem::from).collect::<Vec<_>>())
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
    caller.require(&[Role::Admin])?;
    let id = Id::from(id.into_inner());
    let request_id = request_id.to_string();
    let item = with_conn(&state.pool, move |c| {
        write_transaction(c, |c| {
            let now = Timestamp::now();
            let n = diesel::update(
                outbox::table
                    .filter(outbox::id.eq(id))
                    .filter(outbox::status.eq_any(["dead", "cancelled", "pending"])),
            )
            .set((
                outbox::status.eq("pending"),
                outbox::attempts.eq(0),
                outbox::next_attempt_at.eq(now),
                outbox::updated_at.eq(now),
            ))
            .execute(c)?;
            let row: Option<Row> = outbox::table
                .filter(outbox::id.eq(id))
                .select(Row::as_select())
                .first(c)
                .optional()?;
            let row = row.ok_or_else(|| AppError::not_found("no such message"))?;
            if n == 0 {
                return Err(AppError::conflict(
                    "not_retryable",
                    format!("the message is {}", row.status),
                ));
            }
            audit::record(
                c,
                audit::Entry {
                    actor: Some(caller.id),
                    action: "outbox.retry",
                    entity_type: "outbox",
                    entity_id: Some(id.to_string()),
                    details: json!({"kind": row.kind, "last_error": row.last_error}),
                    request_id: Some(request_id),
                },
            )?;
            Ok(OutboxItem::from(row))
        })
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
