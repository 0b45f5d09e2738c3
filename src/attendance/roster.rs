//! Roster marking: a coordinator records who came, for how long, in one request.
//!
//! The request is a merge keyed by employee: listed employees get exactly the listed values,
//! others keep theirs (a check-in is never wiped by a roster that forgot someone). Sending the
//! same list twice changes nothing, so a flaky connection can simply retry.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::attendance::model::{
    Approval, Attendance, AttendanceRow, AttendanceStatus, NewAttendance, Source, insert,
};
use crate::attendance::rules::{self, Span};
use crate::audit;
use crate::config::AttendanceSettings;
use crate::db::schema::{attendance, signups, users};
use crate::db::{AnyConnection, Id, Timestamp};
use crate::error::{AppError, AppResult, FieldError};
use crate::programs::events::{EventRow, EventStatus, find_row};
use crate::stats::rollup::{Affects, track};

/// Most lines one request may carry (bodies are bounded; larger events send several requests,
/// which the merge semantics make safe).
pub const MAX_ENTRIES: usize = 500;

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RosterMarking {
    /// At most 500 lines, one per employee.
    pub entries: Vec<RosterLine>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RosterLine {
    /// The employee, by id; or give `employee_number` instead (exactly one of the two).
    pub user_id: Option<uuid::Uuid>,
    /// The employee, by HR's number (what a paper sign-in sheet or a spreadsheet holds).
    pub employee_number: Option<String>,
    pub status: AttendanceStatus,
    /// Default: the event's length for a one-day event, `attendance.default_minutes_per_day`
    /// per day for a longer one. Must be omitted or 0 for a no-show.
    pub minutes: Option<i32>,
    /// Person-days. Default: every day the event spans.
    pub days: Option<i32>,
}

/// What a marking did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RosterResult {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// The records of the listed employees, in the order they were listed.
    pub items: Vec<Attendance>,
}

/// Attendance can be recorded for an event that has started and was not cancelled.
pub fn require_recordable(event: &EventRow, now: Timestamp) -> AppResult<()> {
    match EventStatus::parse(&event.status)? {
        EventStatus::Cancelled => Err(AppError::conflict(
            "event_cancelled",
            "a cancelled event has no attendance",
        )),
        EventStatus::Draft => Err(AppError::conflict(
            "event_not_published",
            "a draft event has no attendance",
        )),
        _ if now < event.starts_at => Err(AppError::conflict(
            "event_not_started",
            "attendance can be recorded once the event has started",
        )),
        _ => Ok(()),
    }
}

/// Records the listed lines, by a caller who runs the event's site.
pub fn mark(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    event_id: Id,
    marking: &RosterMarking,
    request_id: Option<String>,
    settings: &AttendanceSettings,
) -> AppResult<RosterResult> {
    let by = caller.id;
    if marking.entries.len() > MAX_ENTRIES {
        return Err(AppError::validation(vec![FieldError::new(
            "entries",
            "too_many",
            format!("at most {MAX_ENTRIES} lines per request; send the rest in another"),
        )]));
    }
    track(conn, caller, &Affects::Event(event_id), |conn| {
        let now = Timestamp::now();
        let (event, site) = find_row(conn, event_id)?;
        crate::programs::require_runs_site(caller, site)?;
        require_recordable(&event, now)?;
        let span = Span::of(event.starts_at, event.ends_at, &event.timezone);
        let per_day = i32::try_from(settings.default_minutes_per_day).unwrap_or(480);

        let (people, mut errors) = identify(conn, &marking.entries)?;
        let mut seen = HashSet::new();
        let mut wanted = Vec::with_capacity(marking.entries.len());
        for (i, line) in marking.entries.iter().enumerate() {
            let user = people[i];
            if let Some(user) = user
                && !seen.insert(user)
            {
                let key = if line.user_id.is_some() {
                    "user_id"
                } else {
                    "employee_number"
                };
                errors.push(FieldError::new(
                    format!("entries[{i}].{key}"),
                    "duplicate",
                    "the employee is listed twice",
                ));
            }
            let entry = rules::Entry {
                status: line.status,
                minutes: line.minutes,
                days: line.days,
            };
            match rules::resolve(entry, span, per_day) {
                Ok((minutes, days)) => {
                    if let Some(user) = user {
                        wanted.push((user, line.status, minutes, days))
                    }
                }
                Err(es) => errors.extend(es.into_iter().map(|mut e| {
                    e.field = format!("entries[{i}].{}", e.field);
                    e
                })),
            }
        }
        if !errors.is_empty() {
            return Err(AppError::validation(errors));
        }
        let listed: Vec<Id> = wanted.iter().map(|w| w.0).collect();

        let existing: HashMap<Id, AttendanceRow> = attendance::table
            .filter(attendance::event_id.eq(event_id))
            .filter(attendance::user_id.eq_any(&listed))
            .select(AttendanceRow::as_select())
            .load::<AttendanceRow>(conn)?
            .into_iter()
            .map(|r| (r.user_id, r))
            .collect();
        let live_signups: HashMap<Id, Id> = signups::table
            .filter(signups::event_id.eq(event_id))
            .filter(signups::user_id.eq_any(&listed))
            .filter(signups::status.ne("cancelled"))
            .select((signups::user_id, signups::id))
            .load::<(Id, Id)>(conn)?
            .into_iter()
            .collect();

        let (mut created, mut updated, mut unchanged) = (0, 0, 0);
        let mut ids = Vec::with_capacity(wanted.len());
        for (user, status, minutes, days) in wanted {
            // Never the coordinator's own hours: nobody approves themselves.
            let approver = (settings.auto_approve_roster
                && user != by
                && rules::auto_approvable(status, minutes, span))
            .then_some(by);
            match existing.get(&user) {
                Some(row)
                    if row.status == status.as_str()
                        && row.minutes == minutes
                        && row.days == days =>
                {
                    unchanged += 1;
                    ids.push(row.id);
                }
                Some(row) => {
                    change(
                        conn,
                        row,
                        (status, minutes, days),
                        approver,
                        by,
                        now,
                        &request_id,
                    )?;
                    updated += 1;
                    ids.push(row.id);
                }
                None => {
                    let id = insert(
                        conn,
                        &NewAttendance {
                            event: event_id,
                            user,
                            signup: live_signups.get(&user).copied(),
                            status,
                            minutes,
                            days,
                            source: Source::Roster,
                            approved_by: approver,
                            recorded_by: by,
                        },
                    )?;
                    created += 1;
                    ids.push(id);
                }
            }
        }
        let mut rows: HashMap<Id, AttendanceRow> = attendance::table
            .filter(attendance::id.eq_any(&ids))
            .select(AttendanceRow::as_select())
            .load::<AttendanceRow>(conn)?
            .into_iter()
            .map(|r| (r.id, r))
            .collect();
        let items = ids
            .iter()
            .filter_map(|id| rows.remove(id))
            .map(Attendance::try_from)
            .collect::<AppResult<Vec<_>>>()?;
        Ok(RosterResult {
            created,
            updated,
            unchanged,
            items,
        })
    })
}

/// The employee of each line (by id or by employee number), and what is wrong with the lines
/// that name nobody: neither or both keys, or a key no employee has.
fn identify(
    conn: &mut AnyConnection,
    entries: &[RosterLine],
) -> AppResult<(Vec<Option<Id>>, Vec<FieldError>)> {
    let ids: Vec<Id> = entries
        .iter()
        .filter_map(|e| e.user_id.map(Id::from))
        .collect();
    let numbers: Vec<String> = entries
        .iter()
        .filter_map(|e| e.employee_number.as_deref().map(|n| n.trim().to_owned()))
        .collect();
    let known: HashSet<Id> = users::table
        .filter(users::id.eq_any(&ids))
        .select(users::id)
        .load::<Id>(conn)?
        .into_iter()
        .collect();
    let by_number: HashMap<String, Id> = users::table
        .filter(users::employee_number.eq_any(&numbers))
        .select((users::employee_number, users::id))
        .load::<(String, Id)>(conn)?
        .into_iter()
        .collect();
    let mut people = Vec::with_capacity(entries.len());
    let mut errors = Vec::new();
    for (i, line) in entries.iter().enumerate() {
        let found = match (line.user_id, line.employee_number.as_deref()) {
            (Some(_), Some(_)) | (None, None) => {
                errors.push(FieldError::new(
                    format!("entries[{i}]"),
                    "one_key",
                    "name the employee by user_id or by employee_number, not both",
                ));
                None
            }
            (Some(id), None) => {
                let id = Id::from(id);
                let hit = known.contains(&id).then_some(id);
                if hit.is_none() {
                    errors.push(FieldError::new(
                        format!("entries[{i}].user_id"),
                        "unknown_user",
                        "no such employee",
                    ));
                }
                hit
            }
            (None, Some(number)) => {
                let hit = by_number.get(number.trim()).copied();
                if hit.is_none() {
                    errors.push(FieldError::new(
                        format!("entries[{i}].employee_number"),
                        "unknown_employee",
                        format!("no employee has the number {:?}", number.trim()),
                    ));
                }
                hit
            }
        };
        people.push(found);
    }
    Ok((people, errors))
}

/// New values for an existing record. A changed record needs approval again (unless
/// auto-approved); a change to a decided record is audited with its before and after.
fn change(
    conn: &mut AnyConnection,
    row: &AttendanceRow,
    (status, minutes, days): (AttendanceStatus, i32, i32),
    approver: Option<Id>,
    by: Id,
    now: Timestamp,
    request_id: &Option<String>,
) -> AppResult<()> {
    let approval = if approver.is_some() {
        Approval::Approved
    } else {
        Approval::Pending
    };
    diesel::update(attendance::table.filter(attendance::id.eq(row.id)))
        .set((
            attendance::status.eq(status.as_str()),
            attendance::minutes.eq(minutes),
            attendance::days.eq(days),
            attendance::source.eq(Source::Roster.as_str()),
            attendance::approval.eq(approval.as_str()),
            attendance::approved_by.eq(approver),
            attendance::approved_at.eq(approver.map(|_| now)),
            attendance::rejection_reason.eq(None::<String>),
            attendance::recorded_by.eq(Some(by)),
            attendance::updated_at.eq(now),
        ))
        .execute(conn)?;
    if row.approval != Approval::Pending.as_str() {
        audit::record(
            conn,
            audit::Entry {
                actor: Some(by),
                action: "attendance.change",
                entity_type: "attendance",
                entity_id: Some(row.id.to_string()),
                details: json!({
                    "before": {"status": row.status, "minutes": row.minutes, "days": row.days,
                               "approval": row.approval, "rejection_reason": row.rejection_reason},
                    "after": {"status": status.as_str(), "minutes": minutes, "days": days,
                              "approval": approval.as_str()},
                }),
                request_id: request_id.clone(),
            },
        )?;
    }
    Ok(())
}
