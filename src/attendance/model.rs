//! Attendance records as stored and as the API shows them.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::attendance;
use crate::db::{AnyConnection, Id, Timestamp};
use crate::error::{AppError, AppResult};

/// Whether the employee came.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttendanceStatus {
    Attended,
    NoShow,
}

/// Only `approved` attendance counts anywhere (hours, statistics, exports of hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Approval {
    Pending,
    Approved,
    Rejected,
}

/// How the record came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Roster,
    CheckIn,
    Import,
}

/// Text forms shared with the database's CHECK constraints.
macro_rules! text_enum {
    ($t:ty, $what:literal, $($v:ident = $s:literal),+) => {
        impl $t {
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }
            pub fn parse(s: &str) -> AppResult<Self> {
                match s {
                    $($s => Ok(Self::$v),)+
                    o => Err(AppError::internal(format!(concat!("unknown ", $what, " {:?} in the database"), o))),
                }
            }
        }
    };
}
text_enum!(
    AttendanceStatus,
    "attendance status",
    Attended = "attended",
    NoShow = "no_show"
);
text_enum!(
    Approval,
    "approval",
    Pending = "pending",
    Approved = "approved",
    Rejected = "rejected"
);
text_enum!(
    Source,
    "attendance source",
    Roster = "roster",
    CheckIn = "check_in",
    Import = "import"
);

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = attendance)]
pub struct AttendanceRow {
    pub id: Id,
    pub event_id: Id,
    pub user_id: Id,
    pub signup_id: Option<Id>,
    pub status: String,
    pub minutes: i32,
    pub days: i32,
    pub source: String,
    pub approval: String,
    pub approved_by: Option<Id>,
    pub approved_at: Option<Timestamp>,
    pub rejection_reason: Option<String>,
    pub recorded_by: Option<Id>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One employee's attendance at one event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attendance {
    pub id: uuid::Uuid,
    pub event_id: uuid::Uuid,
    pub user_id: uuid::Uuid,
    /// The sign-up it fulfils; `null` for someone who came without one.
    pub signup_id: Option<uuid::Uuid>,
    pub status: AttendanceStatus,
    /// Volunteer time in minutes (0 for a no-show).
    pub minutes: i32,
    /// Person-days (0 for a no-show).
    pub days: i32,
    pub source: Source,
    pub approval: Approval,
    /// Who approved or rejected it.
    pub decided_by: Option<uuid::Uuid>,
    pub decided_at: Option<DateTime<Utc>>,
    pub rejection_reason: Option<String>,
    /// Who recorded it last (a coordinator, or the employee at check-in).
    pub recorded_by: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<AttendanceRow> for Attendance {
    type Error = AppError;
    fn try_from(r: AttendanceRow) -> AppResult<Attendance> {
        Ok(Attendance {
            id: r.id.into(),
            event_id: r.event_id.into(),
            user_id: r.user_id.into(),
            signup_id: r.signup_id.map(Into::into),
            status: AttendanceStatus::parse(&r.status)?,
            minutes: r.minutes,
            days: r.days,
            source: Source::parse(&r.source)?,
            approval: Approval::parse(&r.approval)?,
            decided_by: r.approved_by.map(Into::into),
            decided_at: r.approved_at.map(Into::into),
            rejection_reason: r.rejection_reason,
            recorded_by: r.recorded_by.map(Into::into),
            created_at: r.created_at.into(),
            updated_at: r.updated_at.into(),
        })
    }
}

/// The record of `user` at `event`, if any.
pub fn find_for(
    conn: &mut AnyConnection,
    event: Id,
    user: Id,
) -> QueryResult<Option<AttendanceRow>> {
    attendance::table
        .filter(attendance::event_id.eq(event))
        .filter(attendance::user_id.eq(user))
        .select(AttendanceRow::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut AnyConnection, id: Id) -> AppResult<AttendanceRow> {
    attendance::table
        .filter(attendance::id.eq(id))
        .select(AttendanceRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("no such attendance record"))
}

/// A row to insert.
pub struct NewAttendance {
    pub event: Id,
    pub user: Id,
    pub signup: Option<Id>,
    pub status: AttendanceStatus,
    pub minutes: i32,
    pub days: i32,
    pub source: Source,
    /// `Some(approver)` records it as approved at once.
    pub approved_by: Option<Id>,
    pub recorded_by: Id,
}

pub fn insert(conn: &mut AnyConnection, new: &NewAttendance) -> QueryResult<Id> {
    let id = Id::new();
    let now = Timestamp::now();
    let approval = match new.approved_by {
        Some(_) => Approval::Approved,
        None => Approval::Pending,
    };
    diesel::insert_into(attendance::table)
        .values((
            attendance::id.eq(id),
            attendance::event_id.eq(new.event),
            attendance::user_id.eq(new.user),
            attendance::signup_id.eq(new.signup),
            attendance::status.eq(new.status.as_str()),
            attendance::minutes.eq(new.minutes),
            attendance::days.eq(new.days),
            attendance::source.eq(new.source.as_str()),
            attendance::approval.eq(approval.as_str()),
            attendance::approved_by.eq(new.approved_by),
            attendance::approved_at.eq(new.approved_by.map(|_| now)),
            attendance::recorded_by.eq(Some(new.recorded_by)),
            attendance::created_at.eq(now),
            attendance::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(id)
}
