//! Calendar endpoints (over `signups::feed`): one event's `.ics`, and the personal feed of confirmed sign-ups.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::db::Id;
use crate::error::{AppResult, Problem};
use crate::http::{resource, with_conn};
use crate::signups::feed;

fn ics_response(body: String, filename: &str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("inline; filename=\"{filename}\""),
        ))
        .body(body)
}

/// One event as iCalendar (stable UID, TZID of the event's zone where it has a fixed offset).
#[utoipa::path(get, path = "/api/v1/events/{id}/event.ics", tag = "signups", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "Event id")),
    responses((status = 200, description = "text/calendar", content_type = "text/calendar", body = String),
              (status = 404, description = "No such event (or a draft)", body = Problem, content_type = "application/problem+json")))]
pub async fn event_ics(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<uuid::Uuid>,
) -> AppResult<HttpResponse> {
    let id = Id::from(id.into_inner());
    let body = with_conn(&state.pool, move |c| feed::event_ics(c, &caller, id)).await?;
    Ok(ics_response(body, "event.ics"))
}

/// The secret feed URL, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarToken {
    /// Subscribe to this URL in a calendar app; anyone with it sees your confirmed events.
    /// Absolute, on `server.public_url`.
    pub url: String,
    pub token: String,
}

/// Creates (or replaces) the caller's calendar feed secret; the previous URL stops working.
#[utoipa::path(post, path = "/api/v1/me/calendar-token", tag = "signups", security(("bearer" = [])),
    responses((status = 201, description = "The new feed URL", body = CalendarToken)))]
pub async fn rotate_token(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    let token = with_conn(&state.pool, move |c| feed::rotate_token(c, &caller)).await?;
    Ok(HttpResponse::Created().json(CalendarToken {
        url: feed::url(&state.settings.server.public_base(), &token),
        token,
    }))
}

/// Turns the caller's calendar feed off.
#[utoipa::path(delete, path = "/api/v1/me/calendar-token", tag = "signups", security(("bearer" = [])),
    responses((status = 204, description = "The feed URL no longer works")))]
pub async fn revoke_token(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    with_conn(&state.pool, move |c| feed::revoke_token(c, &caller)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
/// Unknown parameters are ignored: calendar apps add cache-busting ones (`?_=1733...`).
pub struct FeedQuery {
    /// The secret from `POST /api/v1/me/calendar-token`.
    pub token: String,
}

/// The personal feed: the events of the user's confirmed sign-ups, from 90 days ago on.
/// Authenticated by the secret in the URL (no bearer token), because calendar apps poll it.
#[utoipa::path(get, path = "/api/v1/me/calendar.ics", tag = "signups", params(FeedQuery),
    responses((status = 200, description = "text/calendar", content_type = "text/calendar", body = String),
              (status = 404, description = "Unknown or revoked feed secret", body = Problem, content_type = "application/problem+json")))]
pub async fn feed(state: web::Data<AppState>, q: web::Query<FeedQuery>) -> AppResult<HttpResponse> {
    let token = q.into_inner().token;
    let body = with_conn(&state.pool, move |c| feed::feed(c, &token)).await?;
    Ok(ics_response(body, "tomoni.ics"))
}

/// This module's routes (mounted by `server::routes`).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/v1/events/{id}/event.ics", "GET").route(web::get().to(event_ics)))
        .service(
            resource("/api/v1/me/calendar-token", "POST, DELETE")
                .route(web::post().to(rotate_token))
                .route(web::delete().to(revoke_token)),
        )
        .service(
            // Calendar apps check the feed with HEAD before they fetch it.
            resource("/api/v1/me/calendar.ics", "GET, HEAD")
                .route(web::get().to(feed))
                .route(web::head().to(feed)),
        );
}

/// This module's part of the OpenAPI document (merged by `api::openapi::document`).
#[derive(utoipa::OpenApi)]
#[openapi(paths(event_ics, rotate_token, revoke_token, feed))]
pub struct Doc;
