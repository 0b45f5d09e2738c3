//! Closing a fiscal year: its figures as published, and honest restatements.
//!
//! A published report must not change by itself when an old record is corrected. Closing year Y
//! (HR or an admin, once Y has ended) freezes every figure of Y — the whole group's table, the
//! breakdowns by site, company, region, theme, category and month, the objectives with their
//! grades, the report's objectives table and the contribution expenses' totals — as published
//! version 1, a JSON document that is never changed again. From then on any change that moves a
//! figure of Y (attendance, approval, an event's date, a programme's categories, a site's dates
//! or company, the year's objectives, an expense line) needs a reason: it is applied,
//! recorded here and in the audit log, and the year's published figures stay as they were until
//! someone "restates" the year, which publishes the next version with the reasons gathered since.
//! Readers get the published figures of a closed year by default and the current ones, or both
//! with the differences per cell, when they ask. Reopening a closed year is an admin act, audited;
//! its versions stay.
//!
//! Concurrency: the guard runs after the change has written the summary rows, so on PostgreSQL a
//! change racing a close either waits for the close's table lock (and then sees the year closed)
//! or finished before the close read the summaries (and is in version 1). SQLite serializes
//! write transactions anyway.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit;
use crate::auth::{Caller, Role};
use crate::db::schema::{fiscal_year_closes, published_figures, restatements};
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, FieldError};
use crate::stats::breakdown::{self, Breakdown, By};
use crate::stats::expenses::{self, Totals};
use crate::stats::mdd::{self, Figures, Metric, Scope};
use crate::stats::objectives::{self, Objectives};
use crate::stats::report_objectives::{self, ObjectivesTable};
use crate::time::FiscalCalendar;

/// The groupings frozen with a year, in the order the API lists them.
pub const GROUPINGS: [By; 6] = [
    By::Site,
    By::Company,
    By::Region,
    By::Theme,
    By::Category,
    By::Month,
];

/// Every figure of a fiscal year as it was published.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Snapshot {
    pub fiscal_year: i32,
    /// The whole group's figures (the report table's column for the year).
    pub figures: Figures,
    /// By site, company, region, theme, category and month.
    pub breakdowns: Vec<Breakdown>,
    pub objectives: Objectives,
    /// The report's objectives table (medium-term and the year's; versions published before it
    /// existed have none).
    #[serde(default)]
    pub report_objectives: Option<ObjectivesTable>,
    /// The year's contribution expenses added up (none in versions published before).
    #[serde(default)]
    pub expenses: Option<Totals>,
}

impl Snapshot {
    /// The figures of a scope: the whole group, or a site's, company's or region's row.
    pub fn figures_of(&self, scope: &Scope) -> Option<Figures> {
        let (by, key) = match (&scope.site_id, &scope.company_id, &scope.region) {
            (Some(s), _, _) => (By::Site, s.to_string()),
            (None, Some(c), _) => (By::Company, c.to_string()),
            (None, None, Some(r)) => (By::Region, r.clone()),
            _ => return Some(self.figures),
        };
        let rows = &self.breakdown(by)?.rows;
        // A group with nothing recorded that year has no row: its figures are all zero.
        Some(
            rows.iter()
                .find(|r| r.key == key)
                .map(|r| r.figures)
                .unwrap_or_default(),
        )
    }

    pub fn breakdown(&self, by: By) -> Option<&Breakdown> {
        self.breakdowns.iter().find(|b| b.by == by)
    }
}

/// A recorded correction of a closed year.
#[derive(Debug, Serialize, ToSchema)]
pub struct Restatement {
    pub id: uuid::Uuid,
    pub reason: String,
    pub recorded_at: DateTime<Utc>,
    pub recorded_by: Option<uuid::Uuid>,
}

/// One published version of a year (its figures at `/versions/{version}`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Version {
    pub version: i32,
    pub published_at: DateTime<Utc>,
    pub published_by: Option<uuid::Uuid>,
    /// Why it was published: the close, or the restatement's summary.
    pub note: String,
    /// The corrections this version took in (none for a close).
    pub restatements: Vec<Restatement>,
}

/// Where a fiscal year stands in the report cycle.
#[derive(Debug, Serialize, ToSchema)]
pub struct YearStatus {
    pub fiscal_year: i32,
    pub closed: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<uuid::Uuid>,
    /// Oldest first; the last is what readers get by default while the year is closed.
    pub versions: Vec<Version>,
    /// Corrections made since the last version, waiting for a restatement.
    pub pending: Vec<Restatement>,
}

/// Which figures a reader wants for closed years.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// The last published version (the default); open years as they are now.
    #[default]
    Published,
    /// As the records are now.
    Current,
    /// Published, with the current figures and the differences beside them.
    Both,
}

impl View {
    pub fn parse(s: Option<&str>) -> AppResult<View> {
        match s.unwrap_or("published") {
            "published" => Ok(View::Published),
            "current" => Ok(View::Current),
            "both" => Ok(View::Both),
            _ => Err(AppError::bad_request(
                "invalid_query",
                "figures is published, current or both",
            )),
        }
    }
}

/// The most characters of a reason (a restatement's, a reopening's, a version's note).
pub const REASON_CHARS: usize = 500;

/// A reason as given, trimmed; a validation error naming `field` if empty or too long.
pub fn reason(field: &str, given: Option<&str>) -> AppResult<String> {
    let r = given.map(str::trim).unwrap_or_default();
    if r.is_empty() || r.chars().count() > REASON_CHARS {
        return Err(AppError::validation(vec![FieldError::new(
            field,
            "invalid_length",
            format!("1 to {REASON_CHARS} characters"),
        )]));
    }
    Ok(r.to_owned())
}

fn require_hr(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Hr, Role::Admin])
}

/// Every figure of `fy` as the summaries hold them now.
pub fn snapshot(conn: &mut AnyConnection, fiscal: FiscalCalendar, fy: i32) -> AppResult<Snapshot> {
    let figures = mdd::figures(conn, fiscal, fy..=fy, &Scope::default())?
        .remove(&fy)
        .unwrap_or_default();
    let breakdowns = GROUPINGS
        .into_iter()
        .map(|by| breakdown::breakdown(conn, fiscal, fy, by))
        .collect::<AppResult<Vec<_>>>()?;
    let objectives = objectives::get(conn, fiscal, fy)?;
    let report_objectives = Some(report_objectives::table(conn, fiscal, fy)?);
    let expenses = Some(expenses::totals(conn, fy)?);
    Ok(Snapshot {
        fiscal_year: fy,
        figures,
        breakdowns,
        objectives,
        report_objectives,
        expenses,
    })
}

/// The closed years among `years`.
pub fn closed_among(conn: &mut AnyConnection, years: &BTreeSet<i32>) -> QueryResult<Vec<i32>> {
    if years.is_empty() {
        return Ok(Vec::new());
    }
    fiscal_year_closes::table
        .filter(fiscal_year_closes::fiscal_year.eq_any(years.iter().copied().collect::<Vec<_>>()))
        .select(fiscal_year_closes::fiscal_year)
        .order(fiscal_year_closes::fiscal_year)
        .load(conn)
}

/// The closed years among `years` and the caller's reason for changing them; `None` when none
/// is closed; refused when one is and the caller gave no reason. Writes nothing (an import's
/// dry run asks this).
pub fn require_reason(
    conn: &mut AnyConnection,
    caller: &Caller,
    years: &BTreeSet<i32>,
) -> AppResult<Option<(Vec<i32>, String)>> {
    let closed = closed_among(conn, years)?;
    if closed.is_empty() {
        return Ok(None);
    }
    let listed = closed
        .iter()
        .map(|y| format!("FY{y}"))
        .collect::<Vec<_>>()
        .join(", ");
    let Some(why) = caller.restatement.as_deref() else {
        return Err(AppError::conflict(
            "restatement_reason_required",
            format!(
                "{listed} is closed: this change restates its published figures; give the \
                 reason (the Restatement-Reason header, 1 to {REASON_CHARS} characters)"
            ),
        ));
    };
    let why = reason("restatement_reason", Some(why))?;
    Ok(Some((closed, why)))
}

/// Lets a change of the figures of `years` through: at once when none is closed; with the
/// caller's restatement reason otherwise, recorded per closed year (and audited); refused
/// without one. Runs inside the change's transaction, after its writes.
pub fn guard(conn: &mut AnyConnection, caller: &Caller, years: &BTreeSet<i32>) -> AppResult<()> {
    let Some((closed, why)) = require_reason(conn, caller, years)? else {
        return Ok(());
    };
    let now = Timestamp::now();
    for fy in closed {
        // One change can pass the guard twice (a site moved: its participants, then its
        // active-site counts): one correction.
        let recorded: bool = diesel::select(diesel::dsl::exists(
            restatements::table
                .filter(restatements::fiscal_year.eq(fy))
                .filter(restatements::version.is_null())
                .filter(restatements::reason.eq(&why))
                .filter(restatements::recorded_by.eq(Some(caller.id))),
        ))
        .get_result(conn)?;
        if recorded {
            continue;
        }
        let id = Id::new();
        diesel::insert_into(restatements::table)
            .values((
                restatements::id.eq(id),
                restatements::fiscal_year.eq(fy),
                restatements::reason.eq(&why),
                restatements::recorded_at.eq(now),
                restatements::recorded_by.eq(Some(caller.id)),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "fiscal_year.restatement",
                entity_type: "fiscal_year",
                entity_id: Some(fy.to_string()),
                details: json!({"restatement_id": id.to_string(), "reason": why}),
                request_id: None,
            },
        )?;
    }
    Ok(())
}

/// The closed years whose active sites change when a site's opening and closing dates go from
/// `before` to `after` (a site is active in a year it was open on any day of), or, when it
/// `moved` to another company or region, the closed years it was or is active in.
pub fn years_site_counts_in(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    before: (NaiveDate, Option<NaiveDate>),
    after: (NaiveDate, Option<NaiveDate>),
    moved: bool,
) -> QueryResult<BTreeSet<i32>> {
    let closed: Vec<i32> = fiscal_year_closes::table
        .select(fiscal_year_closes::fiscal_year)
        .load(conn)?;
    let open_in = |(opened, shut): (NaiveDate, Option<NaiveDate>), fy: i32| {
        fiscal
            .dates(fy)
            .is_some_and(|(first, last)| opened <= last && shut.is_none_or(|c| c >= first))
    };
    Ok(closed
        .into_iter()
        .filter(|fy| {
            let (was, is) = (open_in(before, *fy), open_in(after, *fy));
            was != is || (moved && (was || is))
        })
        .collect())
}

fn last_version(conn: &mut AnyConnection, fy: i32) -> QueryResult<Option<i32>> {
    published_figures::table
        .filter(published_figures::fiscal_year.eq(fy))
        .select(diesel::dsl::max(published_figures::version))
        .first(conn)
}

/// On PostgreSQL, holds off every change to the summaries until this transaction ends, so a
/// snapshot reads one state of them and no change slips past the guard (see the module doc).
fn hold_summaries(conn: &mut AnyConnection) -> QueryResult<()> {
    if let AnyConnection::Postgresql(c) = conn {
        diesel::sql_query(
            "LOCK TABLE stats_year, stats_program_month, stats_members, stats_unique, objectives, \
             report_objectives, objective_measures, contribution_expenses IN SHARE MODE",
        )
        .execute(c)?;
    }
    Ok(())
}

fn publish(
    conn: &mut AnyConnection,
    by: Option<Id>,
    fiscal: FiscalCalendar,
    fy: i32,
    note: &str,
) -> AppResult<i32> {
    let version = last_version(conn, fy)?.unwrap_or(0) + 1;
    let snapshot = snapshot(conn, fiscal, fy)?;
    let figures = serde_json::to_string(&snapshot.figures).map_err(AppError::internal)?;
    let body = serde_json::to_string(&snapshot).map_err(AppError::internal)?;
    diesel::insert_into(published_figures::table)
        .values((
            published_figures::fiscal_year.eq(fy),
            published_figures::version.eq(version),
            published_figures::published_at.eq(Timestamp::now()),
            published_figures::published_by.eq(by),
            published_figures::note.eq(note),
            published_figures::figures.eq(figures),
            published_figures::body.eq(body),
        ))
        .execute(conn)?;
    Ok(version)
}

/// Marks the corrections of `fy` waiting for a version as taken in by `version`.
fn take_in(conn: &mut AnyConnection, fy: i32, version: i32) -> QueryResult<usize> {
    diesel::update(
        restatements::table
            .filter(restatements::fiscal_year.eq(fy))
            .filter(restatements::version.is_null()),
    )
    .set(restatements::version.eq(Some(version)))
    .execute(conn)
}

/// Closes `fy` (HR or an admin; the year must have ended) and publishes its figures as the next
/// version (1 the first time).
pub fn close(
    conn: &mut AnyConnection,
    caller: &Caller,
    fy: i32,
    request_id: Option<String>,
) -> AppResult<YearStatus> {
    require_hr(caller)?;
    close_by(conn, Some(caller.id), fy, request_id)
}

/// Closes `fy` for a person or (`None`) the system: the demo seed closes its older years.
pub fn close_by(
    conn: &mut AnyConnection,
    by: Option<Id>,
    fy: i32,
    request_id: Option<String>,
) -> AppResult<YearStatus> {
    let fiscal = crate::stats::rollup::calendar(conn)?;
    let (_, last_day) = fiscal
        .dates(fy)
        .ok_or_else(|| AppError::bad_request("invalid_year", "no such fiscal year"))?;
    if Timestamp::now().get().date_naive() <= last_day {
        return Err(AppError::conflict(
            "year_not_ended",
            format!("FY{fy} ends on {last_day}; a year is closed after it has ended"),
        ));
    }
    write_transaction(conn, |conn| {
        hold_summaries(conn)?;
        if is_closed(conn, fy)? {
            return Err(AppError::conflict(
                "year_closed",
                format!("FY{fy} is already closed"),
            ));
        }
        diesel::insert_into(fiscal_year_closes::table)
            .values((
                fiscal_year_closes::fiscal_year.eq(fy),
                fiscal_year_closes::closed_at.eq(Timestamp::now()),
                fiscal_year_closes::closed_by.eq(by),
            ))
            .execute(conn)?;
        let first = last_version(conn, fy)?.is_none();
        let note = if first { "closed" } else { "closed again" };
        let version = publish(conn, by, fiscal, fy, note)?;
        // Corrections made while the year was open again are in this version.
        take_in(conn, fy, version)?;
        audit::record(
            conn,
            audit::Entry {
                actor: by,
                action: "fiscal_year.close",
                entity_type: "fiscal_year",
                entity_id: Some(fy.to_string()),
                details: json!({"version": version}),
                request_id,
            },
        )?;
        Ok(())
    })?;
    status(conn, fy)
}

/// Publishes the next version of closed year `fy` with the corrections recorded since the last
/// one (HR or an admin); `note` says why, else the reasons are joined.
pub fn restate(
    conn: &mut AnyConnection,
    caller: &Caller,
    fy: i32,
    note: Option<&str>,
    request_id: Option<String>,
) -> AppResult<YearStatus> {
    require_hr(caller)?;
    let note = note
        .filter(|n| !n.trim().is_empty())
        .map(|n| reason("note", Some(n)))
        .transpose()?;
    write_transaction(conn, |conn| {
        hold_summaries(conn)?;
        if !is_closed(conn, fy)? {
            return Err(AppError::conflict(
                "year_open",
                format!("FY{fy} is not closed; its figures are the current ones"),
            ));
        }
        let pending: Vec<String> = restatements::table
            .filter(restatements::fiscal_year.eq(fy))
            .filter(restatements::version.is_null())
            .order(restatements::recorded_at)
            .select(restatements::reason)
            .load(conn)?;
        if pending.is_empty() {
            return Err(AppError::conflict(
                "nothing_to_restate",
                format!("no correction of FY{fy} has been recorded since its last version"),
            ));
        }
        let note = note.unwrap_or_else(|| {
            let joined: String = pending.join("; ");
            joined.chars().take(REASON_CHARS).collect()
        });
        let fiscal = crate::stats::rollup::calendar(conn)?;
        let version = publish(conn, Some(caller.id), fiscal, fy, &note)?;
        take_in(conn, fy, version)?;
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "fiscal_year.restate",
                entity_type: "fiscal_year",
                entity_id: Some(fy.to_string()),
                details: json!({"version": version, "note": note, "corrections": pending.len()}),
                request_id,
            },
        )?;
        Ok(())
    })?;
    status(conn, fy)
}

/// Opens closed year `fy` again (admins only, with a reason; audited). Its versions stay, and
/// readers get its current figures until it is closed again.
pub fn reopen(
    conn: &mut AnyConnection,
    caller: &Caller,
    fy: i32,
    why: Option<&str>,
    request_id: Option<String>,
) -> AppResult<YearStatus> {
    caller.require(&[Role::Admin])?;
    let why = reason("reason", why)?;
    write_transaction(conn, |conn| {
        let gone = diesel::delete(
            fiscal_year_closes::table.filter(fiscal_year_closes::fiscal_year.eq(fy)),
        )
        .execute(conn)?;
        if gone == 0 {
            return Err(AppError::conflict(
                "year_open",
                format!("FY{fy} is not closed"),
            ));
        }
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "fiscal_year.reopen",
                entity_type: "fiscal_year",
                entity_id: Some(fy.to_string()),
                details: json!({"reason": why}),
                request_id,
            },
        )?;
        Ok(())
    })?;
    status(conn, fy)
}

/// The closed fiscal years among those of `dates`, named as the pages name a year ("FY2026"
/// through `name`), joined for a label; `None` when none is closed.
pub fn closed_years_named(
    conn: &mut AnyConnection,
    dates: impl IntoIterator<Item = NaiveDate>,
    name: impl Fn(i32) -> String,
) -> QueryResult<Option<String>> {
    let fiscal = crate::stats::rollup::calendar(conn)?;
    let years: BTreeSet<i32> = dates.into_iter().map(|d| fiscal.year_of(d)).collect();
    let closed = closed_among(conn, &years)?;
    Ok((!closed.is_empty()).then(|| closed.into_iter().map(name).collect::<Vec<_>>().join(", ")))
}

/// The fiscal year of `date` when it is closed.
pub fn closed_year_of(conn: &mut AnyConnection, date: NaiveDate) -> QueryResult<Option<i32>> {
    let fy = crate::stats::rollup::calendar(conn)?.year_of(date);
    Ok(is_closed(conn, fy)?.then_some(fy))
}

pub fn is_closed(conn: &mut AnyConnection, fy: i32) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        fiscal_year_closes::table.filter(fiscal_year_closes::fiscal_year.eq(fy)),
    ))
    .get_result(conn)
}

type RestatementRow = (Id, String, Timestamp, Option<Id>, Option<i32>);

/// Where `fy` stands: closed or not, its versions with the corrections each took in, and the
/// corrections waiting for the next.
pub fn status(conn: &mut AnyConnection, fy: i32) -> AppResult<YearStatus> {
    let close: Option<(Timestamp, Option<Id>)> = fiscal_year_closes::table
        .filter(fiscal_year_closes::fiscal_year.eq(fy))
        .select((fiscal_year_closes::closed_at, fiscal_year_closes::closed_by))
        .first(conn)
        .optional()?;
    let versions: Vec<(i32, Timestamp, Option<Id>, String)> = published_figures::table
        .filter(published_figures::fiscal_year.eq(fy))
        .order(published_figures::version)
        .select((
            published_figures::version,
            published_figures::published_at,
            published_figures::published_by,
            published_figures::note,
        ))
        .load(conn)?;
    let rows: Vec<RestatementRow> = restatements::table
        .filter(restatements::fiscal_year.eq(fy))
        .order((restatements::recorded_at, restatements::id))
        .select((
            restatements::id,
            restatements::reason,
            restatements::recorded_at,
            restatements::recorded_by,
            restatements::version,
        ))
        .load(conn)?;
    let mut by_version: BTreeMap<Option<i32>, Vec<Restatement>> = BTreeMap::new();
    for (id, reason, at, by, version) in rows {
        by_version.entry(version).or_default().push(Restatement {
            id: id.into(),
            reason,
            recorded_at: at.get(),
            recorded_by: by.map(Into::into),
        });
    }
    Ok(YearStatus {
        fiscal_year: fy,
        closed: close.is_some(),
        closed_at: close.map(|c| c.0.get()),
        closed_by: close.and_then(|c| c.1).map(Into::into),
        versions: versions
            .into_iter()
            .map(|(version, at, by, note)| Version {
                version,
                published_at: at.get(),
                published_by: by.map(Into::into),
                note,
                restatements: by_version.remove(&Some(version)).unwrap_or_default(),
            })
            .collect(),
        pending: by_version.remove(&None).unwrap_or_default(),
    })
}

/// One published version of `fy` (the last when `version` is `None`); 404 if there is none.
pub fn published(
    conn: &mut AnyConnection,
    fy: i32,
    version: Option<i32>,
) -> AppResult<(i32, Snapshot)> {
    let mut q = published_figures::table
        .filter(published_figures::fiscal_year.eq(fy))
        .select((published_figures::version, published_figures::body))
        .order(published_figures::version.desc())
        .into_boxed();
    if let Some(v) = version {
        q = q.filter(published_figures::version.eq(v));
    }
    let (v, body): (i32, String) = q
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found(format!("FY{fy} has no such published version")))?;
    let snapshot = serde_json::from_str(&body).map_err(AppError::internal)?;
    Ok((v, snapshot))
}

/// The last published version of each closed year among `years` and its figures for `scope`.
/// The whole group's are read from their own column: the report table asks on every request,
/// and a year's whole document (every site's breakdown row) is large to parse.
pub fn published_closed(
    conn: &mut AnyConnection,
    years: std::ops::RangeInclusive<i32>,
    scope: &Scope,
) -> AppResult<BTreeMap<i32, (i32, Figures)>> {
    let mut out = BTreeMap::new();
    if *scope == Scope::default() {
        // Every closed year's versions in one statement (a year has a few at most), the last
        // one kept: a ten-year report asked a statement per year before.
        let versions: Vec<(i32, i32, String)> = published_figures::table
            .filter(published_figures::fiscal_year.between(*years.start(), *years.end()))
            .filter(
                published_figures::fiscal_year
                    .eq_any(fiscal_year_closes::table.select(fiscal_year_closes::fiscal_year)),
            )
            .order((
                published_figures::fiscal_year,
                published_figures::version.desc(),
            ))
            .select((
                published_figures::fiscal_year,
                published_figures::version,
                published_figures::figures,
            ))
            .load(conn)?;
        for (fy, version, figures) in versions {
            if let std::collections::btree_map::Entry::Vacant(year) = out.entry(fy) {
                let figures = serde_json::from_str(&figures).map_err(AppError::internal)?;
                year.insert((version, figures));
            }
        }
        return Ok(out);
    }
    let closed: Vec<i32> = fiscal_year_closes::table
        .filter(fiscal_year_closes::fiscal_year.between(*years.start(), *years.end()))
        .select(fiscal_year_closes::fiscal_year)
        .load(conn)?;
    for fy in closed {
        let (version, snapshot) = published(conn, fy, None)?;
        out.insert(
            fy,
            (version, snapshot.figures_of(scope).unwrap_or_default()),
        );
    }
    Ok(out)
}

/// A year's breakdown: a closed year's published one unless `view` is `current`.
pub fn breakdown_as(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    fy: i32,
    by: By,
    view: View,
) -> AppResult<Breakdown> {
    if view != View::Current && is_closed(conn, fy)? {
        let (version, snapshot) = published(conn, fy, None)?;
        if let Some(b) = snapshot.breakdowns.into_iter().find(|b| b.by == by) {
            return Ok(Breakdown {
                published_version: Some(version),
                ..b
            });
        }
    }
    breakdown::breakdown(conn, fiscal, fy, by)
}

/// A year's objectives and grades: a closed year's published ones unless `view` is `current`.
pub fn objectives_as(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    fy: i32,
    view: View,
) -> AppResult<Objectives> {
    if view != View::Current && is_closed(conn, fy)? {
        let (version, snapshot) = published(conn, fy, None)?;
        return Ok(Objectives {
            published_version: Some(version),
            ..snapshot.objectives
        });
    }
    objectives::get(conn, fiscal, fy)
}

/// A year's expense totals: a closed year's published ones unless `view` is `current`.
pub fn expenses_as(conn: &mut AnyConnection, fy: i32, view: View) -> AppResult<Totals> {
    if view != View::Current && is_closed(conn, fy)? {
        let (version, snapshot) = published(conn, fy, None)?;
        if let Some(t) = snapshot.expenses {
            return Ok(Totals {
                published_version: Some(version),
                ..t
            });
        }
    }
    expenses::totals(conn, fy)
}

/// Per figure, current minus published, for the cells that differ.
pub fn differences(published: &Figures, current: &Figures) -> BTreeMap<&'static str, f64> {
    Metric::ALL
        .into_iter()
        .filter_map(|m| {
            let (p, c) = (published.get(m), current.get(m));
            (p != c).then(|| {
                let d = c.unwrap_or(0.0) - p.unwrap_or(0.0);
                (m.as_str(), (d * 100.0).round() / 100.0)
            })
        })
        .collect()
}
