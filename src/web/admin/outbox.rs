//! The mail outbox as administrators watch it: messages by state (pending, sending, sent, dead,
//! cancelled) with their attempts and last error, and "send again" for a dead, cancelled or
//! pending one — `mail::admin::list` and `retry`, the services behind
//! `GET /api/v1/admin/outbox` and `POST /api/v1/admin/outbox/{id}/retry` (audited).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use tracing_actix_web::RequestId;

use crate::AppState;
use crate::db::Id;
use crate::error::AppError;
use crate::http::with_conn;
use crate::mail::admin::{self, OutboxStatus};
use crate::web::form::{Form, field};
use crate::web::page::{self, PageError};
use crate::web::see_other;
use crate::web::visitor::SignedIn;

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin/outbox", web::get().to(list))
        .route("/admin/outbox/{id}/retry", web::post().to(retry));
}

/// Messages a page.
const PAGE: i64 = 50;

const STATES: [OutboxStatus; 5] = [
    OutboxStatus::Pending,
    OutboxStatus::Sending,
    OutboxStatus::Sent,
    OutboxStatus::Dead,
    OutboxStatus::Cancelled,
];

#[derive(Debug, Default, Deserialize)]
struct Query {
    #[serde(default)]
    status: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    retried: String,
}

#[derive(Serialize)]
struct Line {
    id: String,
    kind: String,
    to: String,
    status: String,
    status_text: String,
    attempts: i32,
    next: String,
    error: String,
    created: String,
    retryable: bool,
}

async fn list(
    state: web::Data<AppState>,
    who: SignedIn,
    q: web::Query<Query>,
) -> Result<HttpResponse, PageError> {
    let caller = super::require_admin(&who)?;
    let lang = who.lang();
    let bad = |what: &str| {
        who.visitor.error(AppError::bad_request(
            "invalid_query",
            format!("the {what} is not a known choice"),
        ))
    };
    let status = match q.status.trim() {
        "" => None,
        s => Some(
            STATES
                .into_iter()
                .find(|st| st.as_str() == s)
                .ok_or_else(|| bad("state"))?,
        ),
    };
    let after = match q.after.trim() {
        "" => None,
        a => Some(Id::from(a.parse::<uuid::Uuid>().map_err(|_| bad("page"))?)),
    };
    let mut items = with_conn(&state.pool, move |c| {
        admin::list(c, &caller, status, after, PAGE)
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    let next = page::next_page(&mut items, PAGE, |i| {
        format!("?status={}&after={}", q.status.trim(), i.id)
    });
    let lines: Vec<Line> = items
        .iter()
        .map(|i| Line {
            id: i.id.to_string(),
            kind: i.kind.clone(),
            to: i.to_address.clone(),
            status_text: lang.text(&format!("outbox.status.{}", i.status)),
            retryable: matches!(i.status.as_str(), "dead" | "cancelled" | "pending"),
            status: i.status.clone(),
            attempts: i.attempts,
            next: if i.status == "pending" {
                lang.when(i.next_attempt_at, "UTC")
            } else {
                String::new()
            },
            error: i.last_error.clone().unwrap_or_default(),
            created: lang.when(i.created_at, "UTC"),
        })
        .collect();
    let states: Vec<(&str, String)> = STATES
        .iter()
        .map(|s| {
            (
                s.as_str(),
                lang.text(&format!("outbox.status.{}", s.as_str())),
            )
        })
        .collect();
    let ctx = minijinja::context! {
        active => "admin",
        wide => true,
        status => q.status.trim(),
        states,
        lines => page::data(&lines),
        next,
        retried => !q.retried.is_empty(),
        ..who.visitor.context()
    };
    page::html(StatusCode::OK, "admin_outbox.html", ctx)
}

async fn retry(
    state: web::Data<AppState>,
    who: SignedIn,
    request_id: RequestId,
    id: web::Path<uuid::Uuid>,
    form: Form<Vec<(String, String)>>,
) -> Result<HttpResponse, PageError> {
    who.check_csrf(field(&form, "csrf"))?;
    let caller = super::require_admin(&who)?;
    let id = Id::from(id.into_inner());
    let request_id = request_id.to_string();
    with_conn(&state.pool, move |c| {
        admin::retry(c, &caller, id, &request_id)
    })
    .await
    .map_err(|e| who.visitor.error(e))?;
    let back = match field(&form, "status") {
        s if STATES.iter().any(|st| st.as_str() == s) => {
            format!("/admin/outbox?status={s}&retried=1")
        }
        _ => "/admin/outbox?retried=1".to_owned(),
    };
    Ok(see_other(&back))
}
