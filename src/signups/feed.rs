//! Calendars: one event's `.ics`, and each employee's personal feed of confirmed sign-ups behind
//! a secret, rotatable URL (calendar apps cannot send bearer tokens). The secret is stored
//! hashed, like refresh tokens.

use chrono::{Duration, Utc};
use diesel::prelude::*;

use crate::auth::Caller;
use crate::auth::tokens::{hash_refresh_secret, new_refresh_secret};
use crate::db::schema::{events, signups, users};
use crate::db::{AnyConnection, Id, Timestamp};
use crate::error::{AppError, AppResult};
use crate::ics::{IcsEvent, calendar};
use crate::programs::events::{EventRow, find_row, find_visible, ics_event};

/// One event as iCalendar, for a caller who may see it.
pub fn event_ics(conn: &mut AnyConnection, caller: &Caller, id: Id) -> AppResult<String> {
    find_visible(conn, caller, id)?;
    let row = find_row(conn, id)?.0;
    Ok(calendar(&row.title, &[ics_event(&row)]))
}

/// The feed's address for a secret: what a calendar app subscribes to.
pub fn url(public_base: &str, token: &str) -> String {
    format!("{public_base}/api/v1/me/calendar.ics?token={token}")
}

/// Creates (or replaces) the caller's feed secret and returns it; the previous one stops working.
pub fn rotate_token(conn: &mut AnyConnection, caller: &Caller) -> AppResult<String> {
    let token = new_refresh_secret();
    diesel::update(users::table.filter(users::id.eq(caller.id)))
        .set((
            users::calendar_token_hash.eq(Some(hash_refresh_secret(&token))),
            users::updated_at.eq(Timestamp::now()),
        ))
        .execute(conn)?;
    Ok(token)
}

/// Turns the caller's feed off.
pub fn revoke_token(conn: &mut AnyConnection, caller: &Caller) -> AppResult<()> {
    diesel::update(users::table.filter(users::id.eq(caller.id)))
        .set(users::calendar_token_hash.eq(None::<String>))
        .execute(conn)?;
    Ok(())
}

/// The feed behind `token`: the events of its (active) owner's confirmed sign-ups from 90 days
/// ago on; 404 for an unknown or revoked secret.
pub fn feed(conn: &mut AnyConnection, token: &str) -> AppResult<String> {
    let hash = hash_refresh_secret(token);
    let user: Option<Id> = users::table
        .filter(users::calendar_token_hash.eq(&hash))
        .filter(users::active.eq(true))
        .select(users::id)
        .first(conn)
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
        .load(conn)?;
    let entries: Vec<IcsEvent> = rows.iter().map(ics_event).collect();
    Ok(calendar("Volunteering", &entries))
}
