//! Self check-in: the coordinator shows the event's code (as text or a QR code), employees send
//! it from their phones, and a pending attendance appears for each of them.

use chrono::{DateTime, Duration, FixedOffset};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::attendance::model::{
    Attendance, AttendanceStatus, NewAttendance, Source, find, find_for, insert,
};
use crate::attendance::rules::Span;
use crate::config::AttendanceSettings;
use crate::db::schema::{events, signups};
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult};
use crate::programs::events::{Event, EventRow, EventStatus, find_row};
use crate::signups::service;
use crate::time::local;

/// Letters and digits people cannot confuse when reading a screen aloud (no 0/O, 1/I/L).
const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// 8 characters of 31: about 40 bits, against guessing within one event's window.
const CODE_LEN: usize = 8;

fn generate() -> String {
    use rand::RngExt;
    let mut rng = rand::rng();
    (0..CODE_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// How people type a code they read: any case, with spaces or dashes.
fn normalize(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

/// The code of an event and when it works.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInCode {
    pub event_id: uuid::Uuid,
    /// 8 characters; employees may type it in any case, with spaces or dashes.
    pub code: String,
    /// From when check-in is open (`attendance.check_in_opens_minutes_before` before the start).
    pub opens_at: DateTime<FixedOffset>,
    /// Check-in closes when the event ends.
    pub closes_at: DateTime<FixedOffset>,
    /// What the QR code encodes: the check-in page's address with the code,
    /// `{server.public_url}/events/{event_id}/check-in?code={code}`. A phone's camera opens it in
    /// the browser; an app may read the code from it and post it to
    /// `POST /api/v1/events/{event_id}/check-in`.
    pub qr_payload: String,
}

impl CheckInCode {
    /// The QR code as an SVG document.
    pub fn svg(&self) -> AppResult<String> {
        let qr = qrcode::QrCode::new(self.qr_payload.as_bytes()).map_err(AppError::internal)?;
        Ok(qr
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(240, 240)
            .build())
    }
}

/// When check-in opens for `event`.
fn opens_at(event: &EventRow, settings: &AttendanceSettings) -> DateTime<FixedOffset> {
    let opens = Timestamp::from(
        event.starts_at.get()
            - Duration::minutes(i64::from(settings.check_in_opens_minutes_before)),
    );
    local(opens, &event.timezone)
}

fn describe(
    event: &EventRow,
    code: String,
    settings: &AttendanceSettings,
    base: &str,
) -> CheckInCode {
    CheckInCode {
        event_id: event.id.into(),
        qr_payload: format!("{base}/events/{}/check-in?code={code}", event.id),
        code,
        opens_at: opens_at(event, settings),
        closes_at: local(event.ends_at, &event.timezone),
    }
}

/// The event's code, created on first use; `rotate` replaces it (a code that leaked).
/// For those who run the event's site. `base` is the service's public address, which the QR
/// code's link starts with.
pub fn code(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    event_id: Id,
    rotate: bool,
    settings: &AttendanceSettings,
    base: &str,
) -> AppResult<CheckInCode> {
    write_transaction(conn, |conn| {
        let (event, site) = find_row(conn, event_id)?;
        crate::programs::require_runs_site(caller, site)?;
        match EventStatus::parse(&event.status)? {
            EventStatus::Cancelled => {
                return Err(AppError::conflict(
                    "event_cancelled",
                    "a cancelled event has no check-in",
                ));
            }
            EventStatus::Draft => {
                return Err(AppError::conflict(
                    "event_not_published",
                    "publish the event before showing its check-in code",
                ));
            }
            _ => {}
        }
        let current: Option<String> = events::table
            .filter(events::id.eq(event_id))
            .select(events::check_in_code)
            .first(conn)?;
        let code = match current {
            Some(code) if !rotate => code,
            _ => {
                let code = generate();
                diesel::update(events::table.filter(events::id.eq(event_id)))
                    .set(events::check_in_code.eq(Some(&code)))
                    .execute(conn)?;
                code
            }
        };
        Ok(describe(&event, code, settings, base))
    })
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    /// The code the coordinator shows.
    pub code: String,
}

/// Checks the caller in. Returns the attendance and whether it was created now (a repeated
/// check-in returns the first one). A draft the caller may not see is 404.
pub fn check_in(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    event_id: Id,
    code: &str,
    settings: &AttendanceSettings,
) -> AppResult<(Attendance, bool)> {
    let user = caller.id;
    write_transaction(conn, |conn| {
        let now = Timestamp::now();
        let (event, site) = find_row(conn, event_id)?;
        if !crate::programs::events::visible(caller, &Event::from_row(event.clone(), site)?) {
            return Err(AppError::not_found("no such event"));
        }
        match EventStatus::parse(&event.status)? {
            EventStatus::Published => {}
            EventStatus::Cancelled => {
                return Err(AppError::conflict(
                    "event_cancelled",
                    "the event was cancelled",
                ));
            }
            _ => {
                return Err(AppError::conflict(
                    "check_in_closed",
                    "check-in for this event has closed",
                ));
            }
        }
        let opens = opens_at(&event, settings);
        if now.get() < opens {
            return Err(AppError::conflict(
                "check_in_not_open",
                format!("check-in opens at {}", opens.to_rfc3339()),
            ));
        }
        if now >= event.ends_at {
            return Err(AppError::conflict(
                "check_in_closed",
                "check-in closed when the event ended",
            ));
        }
        let expected: Option<String> = events::table
            .filter(events::id.eq(event_id))
            .select(events::check_in_code)
            .first(conn)?;
        if expected.is_none_or(|c| c != normalize(code)) {
            return Err(AppError::new(
                actix_web::http::StatusCode::UNPROCESSABLE_ENTITY,
                "wrong_check_in_code",
                "that is not this event's check-in code",
            ));
        }
        if let Some(row) = find_for(conn, event_id, user)? {
            return Ok((row.try_into()?, false));
        }
        let live: Option<(Id, String, Option<i32>)> = signups::table
            .filter(signups::event_id.eq(event_id))
            .filter(signups::user_id.eq(user))
            .filter(signups::status.ne("cancelled"))
            .select((signups::id, signups::status, signups::waitlist_position))
            .first(conn)
            .optional()?;
        let signup = match live {
            Some((id, status, _)) if status == "confirmed" => id,
            Some((_, _, position)) => {
                return Err(AppError::conflict(
                    "not_confirmed",
                    format!(
                        "you are on the waitlist (position {}); ask the coordinator",
                        position.unwrap_or(0)
                    ),
                ));
            }
            None if !settings.allow_walk_ins => {
                return Err(AppError::conflict(
                    "not_signed_up",
                    "only employees signed up for this event can check in",
                ));
            }
            None => service::walk_in(conn, &event, user)?.ok_or_else(|| {
                AppError::conflict("event_full", "the event is full; ask the coordinator")
            })?,
        };
        let span = Span::of(event.starts_at, event.ends_at, &event.timezone);
        let per_day = i32::try_from(settings.default_minutes_per_day).unwrap_or(480);
        let id = insert(
            conn,
            &NewAttendance {
                event: event_id,
                user,
                signup: Some(signup),
                status: AttendanceStatus::Attended,
                minutes: span.default_minutes(per_day, span.days),
                days: span.days,
                source: Source::CheckIn,
                approved_by: None,
                recorded_by: user,
            },
        )
        .map_err(|e| match e {
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            ) => AppError::conflict("already_checked_in", "already checked in"),
            other => other.into(),
        })?;
        Ok((find(conn, id)?.try_into()?, true))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        let c = generate();
        assert_eq!(c.len(), CODE_LEN);
        assert!(c.bytes().all(|b| ALPHABET.contains(&b)));
        assert_ne!(generate(), generate());
    }

    #[test]
    fn typed_codes_are_normalized() {
        assert_eq!(normalize(" abcd-efgh "), "ABCDEFGH");
        assert_eq!(normalize("AB CD EF GH"), "ABCDEFGH");
    }
}
