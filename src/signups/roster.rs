//! An event's roster: confirmed (in sign-up order), waitlisted (in line order), then cancelled,
//! with contact details, for the site's coordinators, admins and HR.

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::db::schema::{signups, users};
use crate::db::{AnyConnection, Id};
use crate::error::AppResult;
use crate::programs::events::{self, Event};
use crate::programs::require_runs_site;
use crate::sheet::{Cell, Sheet};
use crate::signups::service::{SignupRow, SignupStatus};

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

/// The event and its roster, in roster order. A draft the caller may not see is 404; HR reads
/// every roster, others must run the site.
pub fn roster(
    conn: &mut AnyConnection,
    caller: &Caller,
    event_id: Id,
) -> AppResult<(Event, Vec<RosterEntry>)> {
    let event = events::find_visible(conn, caller, event_id)?;
    if caller.role != Role::Hr {
        require_runs_site(caller, event.site_id.into())?;
    }
    let rows: Vec<(SignupRow, (String, String, String))> = signups::table
        .inner_join(users::table.on(users::id.eq(signups::user_id)))
        .filter(signups::event_id.eq(event_id))
        .select((
            SignupRow::as_select(),
            (users::employee_number, users::display_name, users::email),
        ))
        .load(conn)?;
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
}

/// The roster as CSV, through the shared sheet writer (RFC 4180, formulas neutralised), with
/// times in the event's zone and its offset (what the coordinator on site reads); `bom` for
/// Excel (Japanese names otherwise garble).
pub fn csv(event: &Event, entries: &[RosterEntry], bom: bool) -> std::io::Result<Vec<u8>> {
    let mut sheet = Sheet::csv_in_memory(bom);
    let local = |t: chrono::DateTime<chrono::Utc>| crate::time::local(t, &event.timezone);
    sheet.header(&[
        "status",
        "waitlist_position",
        "employee_number",
        "display_name",
        "email",
        "signed_up_at",
        "cancelled_at",
    ])?;
    for e in entries {
        let position = e
            .waitlist_position
            .map(|p| p.to_string())
            .unwrap_or_default();
        sheet.row(&[
            Cell::Text(e.status.as_str()),
            Cell::Text(&position),
            Cell::Text(&e.employee_number),
            Cell::Text(&e.display_name),
            Cell::Text(&e.email),
            Cell::Time(local(e.signed_up_at)),
            e.cancelled_at
                .map_or(Cell::Text(""), |t| Cell::Time(local(t))),
        ])?;
    }
    sheet.finish()
}
