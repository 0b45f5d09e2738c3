//! Data-quality findings: what a programme office checks before a fiscal year's figures go
//! into the annual report. Each check counts its cases and names a few so a person can look.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::attendance::model::Approval;
use crate::attendance::rules::MINUTES_PER_DAY;
use crate::db::schema::{attendance, events, programs};
use crate::db::{AnyConnection, Id, Timestamp};
use crate::error::AppResult;
use crate::time::FiscalCalendar;

/// How much a finding matters for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The figures are wrong until it is fixed.
    Error,
    /// Probably wrong; worth a look.
    Warning,
    /// Unusual, often fine.
    Info,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Finding {
    /// Stable name of the check.
    pub check: &'static str,
    pub severity: Severity,
    pub description: &'static str,
    /// Cases found (0 = the check passed).
    pub count: usize,
    /// Up to 10 ids of what to look at: attendance ids, or event ids for event-level checks.
    pub sample_ids: Vec<uuid::Uuid>,
    /// What the sample ids are: `attendance` or `event`.
    pub sample_kind: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QualityReport {
    pub fiscal_year: i32,
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Events examined (not drafts).
    pub events: usize,
    /// Attendance records examined.
    pub records: usize,
    /// Every check, in a fixed order, including those that found nothing.
    pub findings: Vec<Finding>,
}

/// Which sites' events are examined.
#[derive(Debug, Default)]
pub struct Scope {
    pub site_id: Option<Id>,
    pub company_id: Option<Id>,
    pub region: Option<String>,
    /// Coordinators: only these sites.
    pub sites: Option<Vec<Id>>,
}

const SAMPLE: usize = 10;

struct Check {
    check: &'static str,
    severity: Severity,
    description: &'static str,
    kind: &'static str,
    ids: Vec<Id>,
}

impl Check {
    fn new(
        check: &'static str,
        severity: Severity,
        description: &'static str,
        kind: &'static str,
    ) -> Check {
        Check {
            check,
            severity,
            description,
            kind,
            ids: Vec::new(),
        }
    }

    fn finish(self) -> Finding {
        Finding {
            check: self.check,
            severity: self.severity,
            description: self.description,
            count: self.ids.len(),
            sample_ids: self.ids.iter().take(SAMPLE).map(|&id| id.into()).collect(),
            sample_kind: self.kind,
        }
    }
}

struct EventFacts {
    starts_at: Timestamp,
    ends_at: Timestamp,
    capacity: Option<i32>,
    status: String,
}

/// Event ids per query: well under SQLite's bound-parameter limit.
const CHUNK: usize = 5000;

/// The report for fiscal year `fy`, by default the current one, in the calendar the summaries
/// were computed with.
pub fn report_for(
    conn: &mut AnyConnection,
    fy: Option<i32>,
    scope: &Scope,
    now: Timestamp,
) -> AppResult<QualityReport> {
    let fiscal = crate::stats::rollup::calendar(conn)?;
    let fy = fy.unwrap_or_else(|| fiscal.year_of(now.get().date_naive()));
    let dates = fiscal.dates(fy).ok_or_else(|| {
        crate::error::AppError::bad_request("invalid_query", "fiscal_year out of range")
    })?;
    report(conn, fiscal, fy, dates, scope, now)
}

/// Runs every check over the fiscal year's events in `scope`.
pub fn report(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    fy: i32,
    (first, last): (NaiveDate, NaiveDate),
    scope: &Scope,
    now: Timestamp,
) -> AppResult<QualityReport> {
    let mut q = events::table
        .inner_join(programs::table)
        .filter(events::starts_on.between(first, last))
        .filter(events::status.ne("draft"))
        .select((
            events::id,
            events::starts_at,
            events::ends_at,
            events::capacity,
            events::status,
        ))
        .into_boxed();
    if let Some(s) = scope.site_id {
        q = q.filter(programs::site_id.eq(s));
    }
    if let Some(c) = scope.company_id {
        q = q.filter(programs::site_id.eq_any(crate::org::sites::of_company(c)));
    }
    if let Some(r) = &scope.region {
        q = q.filter(programs::site_id.eq_any(crate::org::sites::in_region(r.clone())));
    }
    if let Some(allowed) = &scope.sites {
        q = q.filter(programs::site_id.eq_any(allowed.clone()));
    }
    let event_rows: Vec<(Id, Timestamp, Timestamp, Option<i32>, String)> =
        q.order(events::starts_at).load(conn)?;
    let facts: HashMap<Id, EventFacts> = event_rows
        .iter()
        .map(|(id, s, e, c, st)| {
            (
                *id,
                EventFacts {
                    starts_at: *s,
                    ends_at: *e,
                    capacity: *c,
                    status: st.clone(),
                },
            )
        })
        .collect();

    type Rec = (Id, Id, Id, Option<Id>, String, i32, i32, String, String);
    let mut records: Vec<Rec> = Vec::new();
    let ids: Vec<Id> = event_rows.iter().map(|r| r.0).collect();
    for chunk in ids.chunks(CHUNK) {
        records.extend(
            attendance::table
                .filter(attendance::event_id.eq_any(chunk))
                .select((
                    attendance::id,
                    attendance::event_id,
                    attendance::user_id,
                    attendance::signup_id,
                    attendance::status,
                    attendance::minutes,
                    attendance::days,
                    attendance::source,
                    attendance::approval,
                ))
                .order(attendance::id)
                .load::<Rec>(conn)?,
        );
    }

    let mut longer = Check::new(
        "hours_longer_than_event",
        Severity::Warning,
        "attended minutes exceed the event's own length",
        "attendance",
    );
    let mut over_day = Check::new(
        "over_24h_a_day",
        Severity::Error,
        "more than 24 hours recorded per day of attendance",
        "attendance",
    );
    let mut no_signup = Check::new(
        "attended_without_signup",
        Severity::Info,
        "attended (on the roster or at check-in) without a sign-up",
        "attendance",
    );
    let mut over_capacity = Check::new(
        "attended_over_capacity",
        Severity::Warning,
        "more people attended than the event had seats",
        "event",
    );
    let mut overlapping = Check::new(
        "overlapping_attendance",
        Severity::Warning,
        "the same person attended events that overlap in time",
        "attendance",
    );
    let mut pending_closed = Check::new(
        "pending_in_closed_year",
        Severity::Error,
        "attendance still pending although the fiscal year has ended",
        "attendance",
    );
    let mut no_attendance = Check::new(
        "past_event_without_attendance",
        Severity::Info,
        "a published event has ended and has no attendance recorded",
        "event",
    );

    let closed = fiscal.is_closed(fy, now.get().date_naive());
    let mut attended_per_event: HashMap<Id, i32> = HashMap::new();
    let mut with_records: HashSet<Id> = HashSet::new();
    let mut per_user: HashMap<Id, Vec<(Timestamp, Timestamp, Id)>> = HashMap::new();
    for (id, event, user, signup, status, minutes, days, source, approval) in &records {
        with_records.insert(*event);
        if approval == Approval::Pending.as_str() && closed {
            pending_closed.ids.push(*id);
        }
        if status != "attended" || approval == Approval::Rejected.as_str() {
            continue;
        }
        let Some(e) = facts.get(event) else { continue };
        let length = (e.ends_at.get() - e.starts_at.get()).num_minutes();
        if i64::from(*minutes) > length {
            longer.ids.push(*id);
        }
        if *minutes > MINUTES_PER_DAY.saturating_mul((*days).max(1)) {
            over_day.ids.push(*id);
        }
        if signup.is_none() && source != "import" {
            no_signup.ids.push(*id);
        }
        *attended_per_event.entry(*event).or_default() += 1;
        per_user
            .entry(*user)
            .or_default()
            .push((e.starts_at, e.ends_at, *id));
    }
    for (id, _, _, _, _) in &event_rows {
        let e = &facts[id];
        if let (Some(cap), Some(n)) = (e.capacity, attended_per_event.get(id))
            && *n > cap
        {
            over_capacity.ids.push(*id);
        }
        if e.status == "published" && e.ends_at < now && !with_records.contains(id) {
            no_attendance.ids.push(*id);
        }
    }
    // Sweep each person's events in start order: one overlapping the latest end so far clashes.
    let mut users: Vec<_> = per_user.into_iter().collect();
    users.sort_by_key(|(u, _)| *u);
    for (_, mut spans) in users {
        spans.sort();
        let mut latest: Option<(Timestamp, Id)> = None;
        for (start, end, id) in spans {
            if let Some((until, other)) = latest
                && start < until
            {
                overlapping.ids.push(other);
                overlapping.ids.push(id);
            }
            if latest.is_none_or(|(until, _)| end > until) {
                latest = Some((end, id));
            }
        }
    }
    overlapping.ids.sort();
    overlapping.ids.dedup();

    Ok(QualityReport {
        fiscal_year: fy,
        from: first,
        to: last,
        events: event_rows.len(),
        records: records.len(),
        findings: [
            over_day,
            pending_closed,
            longer,
            over_capacity,
            overlapping,
            no_signup,
            no_attendance,
        ]
        .into_iter()
        .map(Check::finish)
        .collect(),
    })
}
