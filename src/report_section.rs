//! The annual report's section on the volunteering programme, in one answer.
//!
//! What the published report prints for fiscal year Y: the table (sites, programmes,
//! participants, hours) for Y and the two years before with the changes, the biodiversity and
//! disaster-relief lines, the implementation rate against its target, the objectives table with
//! degrees of completion, the award winners and the social contribution expenses. Closed years
//! answer with their published figures (their last version), so the section printed today is
//! the one the company published, unless a restatement has published a newer version. The API
//! gives it as JSON; the web page prints it in English or Japanese.

use serde::Serialize;
use utoipa::ToSchema;

use crate::awards::{self, Winner};
use crate::db::AnyConnection;
use crate::error::AppResult;
use crate::stats::closing::{self, View};
use crate::stats::expenses::Totals;
use crate::stats::mdd::{Change, Metric, Scope};
use crate::stats::objectives::Grade;
use crate::stats::report::{self, YearReport};
use crate::stats::report_objectives::{self, ObjectivesTable};
use crate::time::FiscalCalendar;

/// One of the report's lines: a figure of the year and its change on the year before.
#[derive(Debug, Serialize, ToSchema)]
pub struct Line {
    pub metric: Metric,
    pub value: Option<f64>,
    pub change: Option<Change>,
}

/// The implementation rate against its target (the yearly target on `implementation_rate`,
/// else a measure of the objectives table on it).
#[derive(Debug, Serialize, ToSchema)]
pub struct RateLine {
    /// Percent, one decimal.
    pub actual: Option<f64>,
    pub target: Option<f64>,
    /// Actual over target.
    pub ratio: Option<f64>,
    pub grade: Option<Grade>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportSection {
    pub fiscal_year: i32,
    /// The published version of the year's figures (`null`: the year is not closed).
    pub published_version: Option<i32>,
    /// The year and the two before, oldest first, each with its change on the year before.
    pub table: Vec<YearReport>,
    /// Biodiversity and disaster relief participants.
    pub lines: Vec<Line>,
    pub implementation_rate: RateLine,
    pub objectives: ObjectivesTable,
    pub winners: Vec<Winner>,
    /// The year's and the two years before's, oldest first.
    pub expenses: Vec<Totals>,
}

/// The section of `fy` (everyone signed in reads it: it holds aggregates and winners only).
pub fn section(conn: &mut AnyConnection, fy: i32) -> AppResult<ReportSection> {
    let selected = report::select(
        conn,
        &Scope::default(),
        Some(fy - 2),
        Some(fy),
        View::Published,
    )?;
    let fiscal: FiscalCalendar = selected.fiscal;
    let table = selected.report();
    let this = table.iter().find(|y| y.fiscal_year == fy);
    let published_version = this.and_then(|y| y.published_version);
    let line = |metric: Metric| Line {
        metric,
        value: this.and_then(|y| y.figures.get(metric)),
        change: this.and_then(|y| y.change.get(metric.as_str()).copied()),
    };
    let lines = vec![
        line(Metric::BiodiversityParticipants),
        line(Metric::DisasterReliefParticipants),
    ];
    let objectives = report_objectives::table_as(conn, fiscal, fy, View::Published)?;
    let targets = closing::objectives_as(conn, fiscal, fy, View::Published)?;
    let rate_target = targets
        .objectives
        .iter()
        .chain(
            objectives
                .medium_term
                .iter()
                .flat_map(|m| std::iter::once(&m.objective).chain(m.fiscal_year_objectives.iter()))
                .chain(objectives.fiscal_year_objectives.iter())
                .flat_map(|o| o.measures.iter()),
        )
        .find(|o| o.metric == Metric::ImplementationRate && o.target_kind == "absolute");
    let actual = this.and_then(|y| y.figures.implementation_rate);
    let implementation_rate = RateLine {
        actual,
        target: rate_target.map(|o| o.target_value),
        ratio: rate_target.and_then(|o| o.ratio),
        grade: rate_target.and_then(|o| o.grade),
    };
    let winners = awards::winners(conn, fy)?;
    let expenses = (fy - 2..=fy)
        .map(|y| closing::expenses_as(conn, y, View::Published))
        .collect::<AppResult<Vec<_>>>()?;
    Ok(ReportSection {
        fiscal_year: fy,
        published_version,
        table,
        lines,
        implementation_rate,
        objectives,
        winners,
        expenses,
    })
}
