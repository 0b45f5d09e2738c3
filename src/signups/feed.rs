//! Calendar endpoints: one event's `.ics`, and the personal feed of confirmed sign-ups.

use actix_web::{HttpResponse, web};
use chrono::{Duration, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::auth::Caller;
use crate::auth::tokens::{hash_refresh_secret, new_refresh_secret};
use crate::db::schema::{events, signups, users};
use crate::db::{Id, Timestamp};
use crate::error::{AppError, AppResult, Problem};
use crate::http::with_conn;
use crate::ics::{IcsEvent, calendar};
use crate::programs::events::{EventRow, find_row};
use crate::programs::handlers::visible;

pub fn ics_event(r: &EventRow) -> IcsEvent {
    IcsEvent {
        id: r.id.to_string(),
        title: r.title.clone(),
        description: r.description.clone(),
        location: r.location.clone(),
        starts_at: r.starts_at.get(),
        ends_at: r.ends_at.get(),
        timezone: r.timezone.clone(),
        cancelled: r.status == "cancelled",
        updated_at: r.updated_at.get(),
    }
}

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
    let row = with_conn(&state, move |c| {
        let event = crate::programs::events::find(c, id)?;
        if !visible(&caller, &event) {
            return Err(AppError::not_found("no such event"));
        }
        Ok(find_row(c, id)?.0)
    })
    .await?;
    let title = row.title.clone();
    Ok(ics_response(
        calendar(&title, &[ics_event(&row)]),
        "event.ics",
    ))
}

/// The secret feed URL, shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarToken {
    /// Subscribe to this URL in a calendar app; anyone with it sees your confirmed events.
    pub url: String,
    pub token: String,
}

/// Creates (or replaces) the caller's calendar feed secret; the previous URL stops working.
#[utoipa::path(post, path = "/api/v1/me/calendar-token", tag = "signups", security(("bearer" = [])),
    responses((status = 201, description = "The new feed URL", body = CalendarToken)))]
pub async fn rotate_token(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    let token = new_refresh_secret();
    let hash = hash_refresh_secret(&token);
    with_conn(&state, move |c| {
        diesel::update(users::table.filter(users::id.eq(caller.id)))
            .set((
                users::calendar_token_hash.eq(Some(hash)),
                users::updated_at.eq(Timestamp::now()),
            ))
            .execute(c)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::Created().json(CalendarToken {
        url: format!("/api/v1/me/calendar.ics?token={token}"),
        token,
    }))
}

/// Turns the caller's calendar feed off.
#[utoipa::path(delete, path = "/api/v1/me/calendar-token", tag = "signups", security(("bearer" = [])),
    responses((status = 204, description = "The feed URL no longer works")))]
pub async fn revoke_token(state: web::Data<AppState>, caller: Caller) -> AppResult<HttpResponse> {
    with_conn(&state, move |c| {
        diesel::update(users::table.filter(users::id.eq(caller.id)))
            .set(users::calendar_token_hash.eq(None::<String>))
            .execute(c)?;
        Ok(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
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
    let hash = hash_refresh_secret(&q.token);
    let rows = with_conn(&state, move |c| {
        let user: Option<Id> = users::table
            .filter(users::calendar_token_hash.eq(&hash))
            .filter(users::active.eq(true))
            .select(users::id)
            .first(c)
            .optional()?;
        let user = user.ok_or_else(|| AppError::not_found("no such calendar"))?;
        let since = Timestamp::from(Utc::now() - Duration::days(90));
        let rows: Vec<EventRow> = signups::table
            .inner_join(events::table)
            .filter(signups::user_id.eq(user))
            .filter(signups::status.eq("confirmed"))
            .filter(events::ends_at.gt(since))
            .select(EventRow::as_select())
            .order(events::starts_at)
            .load(c)?;
        Ok(rows)
    })
    .await?;
    let entries: Vec<IcsEvent> = rows.iter().map(ics_event).collect();
    Ok(ics_response(
        calendar("Volunteering", &entries),
        "tomoni.ics",
    ))
}
