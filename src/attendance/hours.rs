//! An employee's own volunteer history, with totals per fiscal year.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::attendance::model::{Approval, AttendanceStatus};
use crate::db::schema::{attendance, events, programs, sites};
use crate::db::{AnyConnection, Id, Timestamp};
use crate::error::AppResult;
use crate::time::FiscalCalendar;
use crate::time::local;
use crate::time::local_date;

/// One event the employee attended (or missed).
#[derive(Debug, Serialize, ToSchema)]
pub struct HoursItem {
    pub attendance_id: uuid::Uuid,
    pub event_id: uuid::Uuid,
    pub event_title: String,
    pub site_id: uuid::Uuid,
    pub site_name: String,
    pub starts_at: DateTime<FixedOffset>,
    /// The fiscal year the event counts in (by the site's local start date).
    pub fiscal_year: i32,
    pub status: AttendanceStatus,
    pub minutes: i32,
    pub days: i32,
    pub approval: Approval,
    pub rejection_reason: Option<String>,
}

/// Totals of one fiscal year. Only approved attendance counts; pending is shown apart so the
/// employee knows what is still to come.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct YearTotals {
    pub fiscal_year: i32,
    /// Events attended with approved hours.
    pub events: i64,
    pub minutes: i64,
    /// `minutes / 60`, rounded to two decimals.
    pub hours: f64,
    /// Person-days.
    pub days: i64,
    /// Minutes still waiting for approval.
    pub pending_minutes: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MyHours {
    /// Month the fiscal year starts in (1-12).
    pub fiscal_year_start_month: u32,
    /// One entry per fiscal year with any record, newest first.
    pub totals: Vec<YearTotals>,
    /// Newest first; only `fiscal_year`'s when that filter is given.
    pub items: Vec<HoursItem>,
}

/// Most items one answer carries: years of weekly volunteering.
pub const MAX_ITEMS: i64 = 1000;

pub fn of_user(
    conn: &mut AnyConnection,
    user: Id,
    fiscal: FiscalCalendar,
    only_year: Option<i32>,
) -> AppResult<MyHours> {
    type Row = (
        (Id, String, i32, i32, String, Option<String>),
        (Id, String, Timestamp, String, Option<NaiveDate>),
        (Id, String),
    );
    let mut q = attendance::table
        .inner_join(events::table.inner_join(programs::table.inner_join(sites::table)))
        .filter(attendance::user_id.eq(user))
        .select((
            (
                attendance::id,
                attendance::status,
                attendance::minutes,
                attendance::days,
                attendance::approval,
                attendance::rejection_reason,
            ),
            (
                events::id,
                events::title,
                events::starts_at,
                events::timezone,
                events::starts_on,
            ),
            (sites::id, sites::name),
        ))
        .into_boxed();
    if let Some((first, last)) = only_year.and_then(|y| fiscal.dates(y)) {
        q = q.filter(events::starts_on.between(first, last));
    }
    let rows: Vec<Row> = q
        .order((events::starts_at.desc(), attendance::id.desc()))
        .limit(MAX_ITEMS)
        .load(conn)?;
    let mut items = Vec::with_capacity(rows.len());
    for ((id, status, minutes, days, approval, reason), (event, title, starts, tz, on), site) in
        rows
    {
        let date = on.unwrap_or_else(|| local_date(starts, &tz));
        items.push(HoursItem {
            attendance_id: id.into(),
            event_id: event.into(),
            event_title: title,
            site_id: site.0.into(),
            site_name: site.1,
            starts_at: local(starts, &tz),
            fiscal_year: fiscal.year_of(date),
            status: AttendanceStatus::parse(&status)?,
            minutes,
            days,
            approval: Approval::parse(&approval)?,
            rejection_reason: reason,
        });
    }
    let totals = totals(conn, user, fiscal)?;
    Ok(MyHours {
        fiscal_year_start_month: fiscal.start_month(),
        totals,
        items,
    })
}

/// Totals over every record of the user (a few hundred rows at most), summed per fiscal year.
fn totals(
    conn: &mut AnyConnection,
    user: Id,
    fiscal: FiscalCalendar,
) -> AppResult<Vec<YearTotals>> {
    let rows: Vec<(Option<NaiveDate>, Timestamp, String, String, i32, i32)> = attendance::table
        .inner_join(events::table)
        .filter(attendance::user_id.eq(user))
        .filter(attendance::status.eq(AttendanceStatus::Attended.as_str()))
        .select((
            events::starts_on,
            events::starts_at,
            events::timezone,
            attendance::approval,
            attendance::minutes,
            attendance::days,
        ))
        .load(conn)?;
    let mut years: BTreeMap<i32, YearTotals> = BTreeMap::new();
    for (on, starts, tz, approval, minutes, days) in rows {
        let fy = fiscal.year_of(on.unwrap_or_else(|| local_date(starts, &tz)));
        let t = years.entry(fy).or_insert_with(|| YearTotals {
            fiscal_year: fy,
            ..YearTotals::default()
        });
        match Approval::parse(&approval)? {
            Approval::Approved => {
                t.events += 1;
                t.minutes += i64::from(minutes);
                t.days += i64::from(days);
            }
            Approval::Pending => t.pending_minutes += i64::from(minutes),
            Approval::Rejected => {}
        }
    }
    Ok(years
        .into_values()
        .rev()
        .map(|mut t| {
            t.hours = (t.minutes as f64 / 60.0 * 100.0).round() / 100.0;
            t
        })
        .collect())
}

/// The items as CSV (the shared sheet writer: RFC 4180, formulas neutralised): date and start
/// (site-local, with the offset), fiscal year, event, site, status, minutes, hours, days,
/// approval; `bom` for Excel.
pub fn csv(items: &[HoursItem], bom: bool) -> std::io::Result<Vec<u8>> {
    use crate::sheet::{Cell, Sheet};
    let mut sheet = Sheet::csv_in_memory(bom);
    sheet.header(&[
        "event_date",
        "starts_at",
        "fiscal_year",
        "event_title",
        "site",
        "status",
        "minutes",
        "hours",
        "days",
        "approval",
    ])?;
    for i in items {
        let status = if i.status == AttendanceStatus::Attended {
            "attended"
        } else {
            "no_show"
        };
        sheet.row(&[
            Cell::Date(i.starts_at.date_naive()),
            Cell::Time(i.starts_at),
            Cell::Number(f64::from(i.fiscal_year)),
            Cell::Text(&i.event_title),
            Cell::Text(&i.site_name),
            Cell::Text(status),
            Cell::Number(f64::from(i.minutes)),
            Cell::Number(f64::from(i.minutes) / 60.0),
            Cell::Number(f64::from(i.days)),
            Cell::Text(i.approval.as_str()),
        ])?;
    }
    sheet.finish()
}
