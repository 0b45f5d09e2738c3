//! Objectives as the annual report writes them: medium-term objectives spanning years, with the
//! fiscal year's objectives under them, each with its degree of completion on the report's
//! four-step scale.
//!
//! An objective is either *measured* — one or more targets on the report's figures, each graded
//! as `stats::objectives` grades a yearly target, the objective taking the lowest of them (the
//! report grades a goal by its weakest measure: 44 % against 60 % is "mostly achieved", and with
//! +29 % against +10 % "achieved" beside it the objective stays "mostly achieved") — or
//! *qualitative*: what was achieved, in words, and a grade a person gives, audited with their
//! name. A closed year's table is frozen with its figures (`closing::Snapshot`), so changing an
//! objective that covers a closed year is a restatement and needs a reason.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit;
use crate::auth::{Caller, Role};
use crate::db::schema::{objective_measures as om, report_objectives as ro};
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, FieldError};
use crate::stats::closing::{self, View};
use crate::stats::mdd::{self, Figures, Metric, Scope};
use crate::stats::objectives::{self, Grade, ObjectiveInput, ObjectiveResult};
use crate::time::FiscalCalendar;

/// At most this many measures under one objective.
pub const MAX_MEASURES: usize = 5;
/// At most this many objectives starting in one year (bounds the year's table).
pub const MAX_PER_YEAR: i64 = 40;
/// The longest medium-term plan, in years after its first.
pub const MAX_SPAN: i32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// Spans `first_year` to `last_year`.
    MediumTerm,
    /// One fiscal year, optionally under a medium-term objective.
    FiscalYear,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::MediumTerm => "medium_term",
            Level::FiscalYear => "fiscal_year",
        }
    }

    fn parse(s: &str) -> Level {
        if s == "medium_term" {
            Level::MediumTerm
        } else {
            Level::FiscalYear
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Assessment {
    /// Graded from the figures by its measures (the lowest grade of them).
    Measured,
    /// Achievements in words and a grade set by a person.
    Qualitative,
}

impl Assessment {
    fn as_str(self) -> &'static str {
        match self {
            Assessment::Measured => "measured",
            Assessment::Qualitative => "qualitative",
        }
    }

    fn parse(s: &str) -> Assessment {
        if s == "qualitative" {
            Assessment::Qualitative
        } else {
            Assessment::Measured
        }
    }
}

/// An objective as HR writes it.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveDraft {
    pub level: Level,
    /// A fiscal-year objective's medium-term objective (which must cover its year).
    pub parent_id: Option<uuid::Uuid>,
    /// The fiscal year of a fiscal-year objective; a medium-term objective's first year.
    #[schema(minimum = 1900, maximum = 2200)]
    pub first_year: i32,
    /// A medium-term objective's last year (at most 10 after the first); a fiscal-year
    /// objective's is its `first_year`.
    pub last_year: Option<i32>,
    /// 1 to 300 characters.
    pub title: String,
    pub assessment: Assessment,
    /// A measured objective's targets (1 to 5, one per figure); none for a qualitative one.
    #[serde(default)]
    pub measures: Vec<ObjectiveInput>,
}

/// What was achieved, and for a qualitative objective the grade a person gives it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessmentInput {
    /// Up to 2,000 characters; empty clears it.
    #[serde(default)]
    pub achievements: String,
    /// Only for a qualitative objective (a measured one is graded by its figures); `null`
    /// clears it.
    pub grade: Option<Grade>,
}

/// An objective with its degree of completion in one fiscal year.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct YearObjective {
    pub id: uuid::Uuid,
    pub level: Level,
    pub parent_id: Option<uuid::Uuid>,
    pub first_year: i32,
    pub last_year: i32,
    pub title: String,
    pub assessment: Assessment,
    /// Each target graded on the year's figures (the whole group).
    pub measures: Vec<ObjectiveResult>,
    pub achievements: Option<String>,
    /// The degree of completion: the lowest of the measures' grades, or the person's grade;
    /// `null` while a measure has no figure or nobody has graded it.
    pub grade: Option<Grade>,
    /// Who gave a qualitative objective its grade, and when.
    pub graded_by: Option<uuid::Uuid>,
    pub graded_at: Option<DateTime<Utc>>,
}

/// A medium-term objective and the year's objectives under it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MediumTermObjective {
    #[serde(flatten)]
    pub objective: YearObjective,
    pub fiscal_year_objectives: Vec<YearObjective>,
}

/// The objectives table of a fiscal year, as the report prints it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObjectivesTable {
    pub fiscal_year: i32,
    /// The medium-term objectives covering the year, each with the year's objectives under it.
    pub medium_term: Vec<MediumTermObjective>,
    /// The year's objectives under no medium-term one.
    pub fiscal_year_objectives: Vec<YearObjective>,
    /// A closed year's published version this table is from (`null`: as it is now).
    #[serde(default)]
    pub published_version: Option<i32>,
}

/// A stored measure: metric, target kind, target value.
type Target = (String, String, f64);

type Row = (
    Id,
    String,
    Option<Id>,
    i32,
    i32,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<Id>,
    Option<Timestamp>,
);

const fn columns() -> (
    ro::id,
    ro::level,
    ro::parent_id,
    ro::first_year,
    ro::last_year,
    ro::title,
    ro::assessment,
    ro::achievements,
    ro::grade,
    ro::graded_by,
    ro::graded_at,
) {
    (
        ro::id,
        ro::level,
        ro::parent_id,
        ro::first_year,
        ro::last_year,
        ro::title,
        ro::assessment,
        ro::achievements,
        ro::grade,
        ro::graded_by,
        ro::graded_at,
    )
}

fn require_editor(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Hr, Role::Admin])
}

fn not_found() -> AppError {
    AppError::not_found("no such objective")
}

/// Checks a draft on its own; returns its last year.
fn check(draft: &ObjectiveDraft) -> Result<i32, Vec<FieldError>> {
    let mut errors = Vec::new();
    let title = draft.title.trim();
    if title.is_empty() || title.chars().count() > 300 {
        errors.push(FieldError::new(
            "title",
            "invalid_length",
            "1 to 300 characters",
        ));
    }
    if !(1900..=2200).contains(&draft.first_year) {
        errors.push(FieldError::new(
            "first_year",
            "out_of_range",
            "1900 to 2200",
        ));
    }
    let last = draft.last_year.unwrap_or(draft.first_year);
    match draft.level {
        Level::MediumTerm => {
            if last < draft.first_year || last > draft.first_year + MAX_SPAN {
                errors.push(FieldError::new(
                    "last_year",
                    "out_of_range",
                    format!("from first_year to {MAX_SPAN} years after it"),
                ));
            }
            if draft.parent_id.is_some() {
                errors.push(FieldError::new(
                    "parent_id",
                    "not_allowed",
                    "a medium-term objective sits under none",
                ));
            }
        }
        Level::FiscalYear if last != draft.first_year => errors.push(FieldError::new(
            "last_year",
            "not_allowed",
            "a fiscal-year objective covers its first_year only",
        )),
        Level::FiscalYear => {}
    }
    match draft.assessment {
        Assessment::Measured if draft.measures.is_empty() => errors.push(FieldError::new(
            "measures",
            "required",
            "a measured objective has 1 to 5 measures",
        )),
        Assessment::Measured if draft.measures.len() > MAX_MEASURES => {
            errors.push(FieldError::new(
                "measures",
                "too_many",
                "a measured objective has 1 to 5 measures",
            ))
        }
        Assessment::Qualitative if !draft.measures.is_empty() => errors.push(FieldError::new(
            "measures",
            "not_allowed",
            "a qualitative objective is graded by a person, not by measures",
        )),
        _ => {}
    }
    let mut seen = BTreeSet::new();
    for (i, m) in draft.measures.iter().enumerate() {
        if !seen.insert(m.metric) {
            errors.push(FieldError::new(
                format!("measures[{i}].metric"),
                "duplicate",
                "one measure per figure",
            ));
        }
        errors.extend(objectives::check_target(&format!("measures[{i}]"), m));
    }
    if errors.is_empty() {
        Ok(last)
    } else {
        Err(errors)
    }
}

/// The span of an existing objective and how many objectives sit under it.
fn span_of(conn: &mut AnyConnection, id: Id) -> AppResult<(Level, i32, i32)> {
    let (level, first, last): (String, i32, i32) = ro::table
        .find(id)
        .select((ro::level, ro::first_year, ro::last_year))
        .first(conn)
        .optional()?
        .ok_or_else(not_found)?;
    Ok((Level::parse(&level), first, last))
}

/// Checks what a draft refers to: its parent covers its year, a medium-term objective's new
/// span still covers the objectives under it, and the year has room.
fn check_links(
    conn: &mut AnyConnection,
    draft: &ObjectiveDraft,
    last: i32,
    editing: Option<Id>,
) -> AppResult<()> {
    if let Some(parent) = draft.parent_id {
        let found = span_of(conn, parent.into());
        let covers = matches!(found, Ok((Level::MediumTerm, first, end))
            if first <= draft.first_year && draft.first_year <= end);
        if !covers {
            return Err(AppError::validation(vec![FieldError::new(
                "parent_id",
                "invalid",
                "a medium-term objective covering first_year",
            )]));
        }
    }
    if let Some(id) = editing {
        let outside: i64 = ro::table
            .filter(ro::parent_id.eq(Some(id)))
            .filter(
                ro::first_year
                    .lt(draft.first_year)
                    .or(ro::first_year.gt(last)),
            )
            .count()
            .get_result(conn)?;
        let children: i64 = ro::table
            .filter(ro::parent_id.eq(Some(id)))
            .count()
            .get_result(conn)?;
        if outside > 0 || (children > 0 && draft.level == Level::FiscalYear) {
            return Err(AppError::conflict(
                "objectives_under_it",
                "fiscal-year objectives sit under this one outside the new span; move or \
                 delete them first",
            ));
        }
    } else {
        let in_year: i64 = ro::table
            .filter(ro::first_year.eq(draft.first_year))
            .count()
            .get_result(conn)?;
        if in_year >= MAX_PER_YEAR {
            return Err(AppError::conflict(
                "too_many_objectives",
                format!("at most {MAX_PER_YEAR} objectives start in one year"),
            ));
        }
    }
    Ok(())
}

fn write_measures(conn: &mut AnyConnection, id: Id, draft: &ObjectiveDraft) -> AppResult<()> {
    diesel::delete(om::table.filter(om::objective_id.eq(id))).execute(conn)?;
    for (i, m) in draft.measures.iter().enumerate() {
        let (kind, value) = match (m.target, m.yoy_percent) {
            (Some(t), _) => ("absolute", t),
            (None, Some(p)) => ("yoy_percent", p),
            (None, None) => continue,
        };
        diesel::insert_into(om::table)
            .values((
                om::objective_id.eq(id),
                om::position.eq(i as i32),
                om::metric.eq(m.metric.as_str()),
                om::target_kind.eq(kind),
                om::target_value.eq(value),
            ))
            .execute(conn)?;
    }
    Ok(())
}

fn years(first: i32, last: i32) -> BTreeSet<i32> {
    (first..=last).collect()
}

/// Adds an objective (HR and admins; audited). One covering a closed year restates it.
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    draft: &ObjectiveDraft,
    request_id: Option<String>,
) -> AppResult<YearObjective> {
    require_editor(caller)?;
    create_by(conn, Some(caller), draft, request_id)
}

/// Adds an objective for a person, or (`None`) for the system (the demo seed).
pub fn create_by(
    conn: &mut AnyConnection,
    caller: Option<&Caller>,
    draft: &ObjectiveDraft,
    request_id: Option<String>,
) -> AppResult<YearObjective> {
    let last = check(draft).map_err(AppError::validation)?;
    let id = Id::new();
    write_transaction(conn, |conn| {
        check_links(conn, draft, last, None)?;
        let now = Timestamp::now();
        diesel::insert_into(ro::table)
            .values((
                ro::id.eq(id),
                ro::level.eq(draft.level.as_str()),
                ro::parent_id.eq(draft.parent_id.map(Id::from)),
                ro::first_year.eq(draft.first_year),
                ro::last_year.eq(last),
                ro::title.eq(draft.title.trim()),
                ro::assessment.eq(draft.assessment.as_str()),
                ro::created_by.eq(caller.map(|c| c.id)),
                ro::created_at.eq(now),
                ro::updated_at.eq(now),
            ))
            .execute(conn)?;
        write_measures(conn, id, draft)?;
        audit::record(
            conn,
            audit::Entry {
                actor: caller.map(|c| c.id),
                action: "report_objective.create",
                entity_type: "report_objective",
                entity_id: Some(id.to_string()),
                details: json!({ "objective": draft }),
                request_id,
            },
        )?;
        if let Some(caller) = caller {
            closing::guard(conn, caller, &years(draft.first_year, last))?;
        }
        Ok::<_, AppError>(())
    })?;
    let fiscal = crate::stats::rollup::calendar(conn)?;
    one(conn, fiscal, id)
}

/// Rewrites an objective (HR and admins; audited). Turning a qualitative objective measured
/// clears its grade.
pub fn update(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: Id,
    draft: &ObjectiveDraft,
    request_id: Option<String>,
) -> AppResult<YearObjective> {
    require_editor(caller)?;
    let last = check(draft).map_err(AppError::validation)?;
    if draft.parent_id.map(Id::from) == Some(id) {
        return Err(AppError::validation(vec![FieldError::new(
            "parent_id",
            "invalid",
            "an objective cannot sit under itself",
        )]));
    }
    write_transaction(conn, |conn| {
        let (_, was_first, was_last) = span_of(conn, id)?;
        check_links(conn, draft, last, Some(id))?;
        let qualitative = draft.assessment == Assessment::Qualitative;
        diesel::update(ro::table.find(id))
            .set((
                ro::level.eq(draft.level.as_str()),
                ro::parent_id.eq(draft.parent_id.map(Id::from)),
                ro::first_year.eq(draft.first_year),
                ro::last_year.eq(last),
                ro::title.eq(draft.title.trim()),
                ro::assessment.eq(draft.assessment.as_str()),
                ro::updated_at.eq(Timestamp::now()),
            ))
            .execute(conn)?;
        if !qualitative {
            diesel::update(ro::table.find(id))
                .set((
                    ro::grade.eq(None::<String>),
                    ro::graded_by.eq(None::<Id>),
                    ro::graded_at.eq(None::<Timestamp>),
                ))
                .execute(conn)?;
        }
        write_measures(conn, id, draft)?;
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "report_objective.update",
                entity_type: "report_objective",
                entity_id: Some(id.to_string()),
                details: json!({ "objective": draft }),
                request_id,
            },
        )?;
        let mut touched = years(was_first, was_last);
        touched.extend(years(draft.first_year, last));
        closing::guard(conn, caller, &touched)?;
        Ok::<_, AppError>(())
    })?;
    let fiscal = crate::stats::rollup::calendar(conn)?;
    one(conn, fiscal, id)
}

/// Removes an objective with no objectives under it (HR and admins; audited).
pub fn delete(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: Id,
    request_id: Option<String>,
) -> AppResult<()> {
    require_editor(caller)?;
    write_transaction(conn, |conn| {
        let (_, first, last) = span_of(conn, id)?;
        let children: i64 = ro::table
            .filter(ro::parent_id.eq(Some(id)))
            .count()
            .get_result(conn)?;
        if children > 0 {
            return Err(AppError::conflict(
                "objectives_under_it",
                "fiscal-year objectives sit under this one; move or delete them first",
            ));
        }
        diesel::delete(om::table.filter(om::objective_id.eq(id))).execute(conn)?;
        diesel::delete(ro::table.find(id)).execute(conn)?;
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "report_objective.delete",
                entity_type: "report_objective",
                entity_id: Some(id.to_string()),
                details: json!({}),
                request_id,
            },
        )?;
        closing::guard(conn, caller, &years(first, last))
    })
}

/// Records what an objective achieved and, for a qualitative one, its grade (HR and admins;
/// audited with the grader's name and the time).
pub fn assess(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: Id,
    input: &AssessmentInput,
    request_id: Option<String>,
) -> AppResult<YearObjective> {
    require_editor(caller)?;
    assess_by(conn, Some(caller), id, input, request_id)
}

/// Assesses for a person or (`None`) the system (the demo seed).
pub fn assess_by(
    conn: &mut AnyConnection,
    caller: Option<&Caller>,
    id: Id,
    input: &AssessmentInput,
    request_id: Option<String>,
) -> AppResult<YearObjective> {
    let achievements = input.achievements.trim();
    if achievements.chars().count() > 2000 {
        return Err(AppError::validation(vec![FieldError::new(
            "achievements",
            "invalid_length",
            "at most 2,000 characters",
        )]));
    }
    write_transaction(conn, |conn| {
        let (first, last, assessment): (i32, i32, String) = ro::table
            .find(id)
            .select((ro::first_year, ro::last_year, ro::assessment))
            .first(conn)
            .optional()?
            .ok_or_else(not_found)?;
        if input.grade.is_some() && Assessment::parse(&assessment) == Assessment::Measured {
            return Err(AppError::validation(vec![FieldError::new(
                "grade",
                "not_allowed",
                "a measured objective is graded by its figures",
            )]));
        }
        let now = Timestamp::now();
        let graded = input.grade.map(|_| (caller.map(|c| c.id), now));
        diesel::update(ro::table.find(id))
            .set((
                ro::achievements.eq((!achievements.is_empty()).then_some(achievements)),
                ro::grade.eq(input.grade.map(Grade::as_str)),
                ro::graded_by.eq(graded.and_then(|g| g.0)),
                ro::graded_at.eq(graded.map(|g| g.1)),
                ro::updated_at.eq(now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            audit::Entry {
                actor: caller.map(|c| c.id),
                action: "report_objective.assess",
                entity_type: "report_objective",
                entity_id: Some(id.to_string()),
                details: json!({"grade": input.grade, "achievements": achievements}),
                request_id,
            },
        )?;
        match caller {
            Some(caller) => closing::guard(conn, caller, &years(first, last)),
            None => Ok(()),
        }
    })?;
    let fiscal = crate::stats::rollup::calendar(conn)?;
    one(conn, fiscal, id)
}

/// Measures of `ids`, in their order.
fn measures_of(conn: &mut AnyConnection, ids: &[Id]) -> QueryResult<BTreeMap<Id, Vec<Target>>> {
    let rows: Vec<(Id, String, String, f64)> = om::table
        .filter(om::objective_id.eq_any(ids))
        .order((om::objective_id, om::position))
        .select((
            om::objective_id,
            om::metric,
            om::target_kind,
            om::target_value,
        ))
        .load(conn)?;
    let mut out: BTreeMap<Id, Vec<_>> = BTreeMap::new();
    for (id, metric, kind, value) in rows {
        out.entry(id).or_default().push((metric, kind, value));
    }
    Ok(out)
}

fn graded(row: Row, measures: &[Target], now: &Figures, before: &Figures) -> YearObjective {
    let (id, level, parent, first, last, title, assessment, achievements, grade, by, at) = row;
    let assessment = Assessment::parse(&assessment);
    let measures: Vec<ObjectiveResult> = measures
        .iter()
        .filter_map(|(metric, kind, value)| {
            Some(objectives::measure(
                Metric::parse(metric)?,
                kind.clone(),
                *value,
                now,
                before,
            ))
        })
        .collect();
    let grade = match assessment {
        Assessment::Qualitative => grade.as_deref().and_then(Grade::parse),
        Assessment::Measured => lowest(&measures),
    };
    YearObjective {
        id: id.into(),
        level: Level::parse(&level),
        parent_id: parent.map(Into::into),
        first_year: first,
        last_year: last,
        title,
        assessment,
        measures,
        achievements,
        grade,
        graded_by: by.map(Into::into),
        graded_at: at.map(|t| t.get()),
    }
}

/// The lowest grade of the measures; `None` if there are none or one has no figure to grade.
pub fn lowest(measures: &[ObjectiveResult]) -> Option<Grade> {
    measures
        .iter()
        .map(|m| m.grade)
        .try_fold(None, |low: Option<Grade>, g| {
            g.map(|g| Some(low.map_or(g, |l| l.lower(g))))
        })
        .flatten()
}

/// The year's figures and the year before's, the whole group's, as they are now.
fn figures_around(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    fy: i32,
) -> AppResult<(Figures, Figures)> {
    let figures = mdd::figures(conn, fiscal, fy - 1..=fy, &Scope::default())?;
    Ok((
        figures.get(&fy).copied().unwrap_or_default(),
        figures.get(&(fy - 1)).copied().unwrap_or_default(),
    ))
}

/// One objective, graded in its last year or the current one, whichever comes first.
fn one(conn: &mut AnyConnection, fiscal: FiscalCalendar, id: Id) -> AppResult<YearObjective> {
    let row: Row = ro::table
        .find(id)
        .select(columns())
        .first(conn)
        .optional()?
        .ok_or_else(not_found)?;
    let this_year = fiscal.year_of(Timestamp::now().get().date_naive());
    let fy = row.4.min(this_year).max(row.3);
    let (now, before) = figures_around(conn, fiscal, fy)?;
    let measures = measures_of(conn, &[id])?;
    Ok(graded(
        row,
        measures.get(&id).map(Vec::as_slice).unwrap_or_default(),
        &now,
        &before,
    ))
}

/// The objectives table of `fy` as the records are now.
pub fn table(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    fy: i32,
) -> AppResult<ObjectivesTable> {
    let rows: Vec<Row> = ro::table
        .filter(ro::first_year.le(fy))
        .filter(ro::last_year.ge(fy))
        .order((ro::level.desc(), ro::first_year, ro::created_at, ro::id))
        .select(columns())
        .load(conn)?;
    let ids: Vec<Id> = rows.iter().map(|r| r.0).collect();
    let measures = measures_of(conn, &ids)?;
    let (now, before) = figures_around(conn, fiscal, fy)?;
    let mut medium_term: Vec<MediumTermObjective> = Vec::new();
    let mut alone = Vec::new();
    for row in rows {
        let m = measures.get(&row.0).map(Vec::as_slice).unwrap_or_default();
        let objective = graded(row, m, &now, &before);
        match (objective.level, objective.parent_id) {
            (Level::MediumTerm, _) => medium_term.push(MediumTermObjective {
                objective,
                fiscal_year_objectives: Vec::new(),
            }),
            (Level::FiscalYear, Some(parent)) => {
                match medium_term.iter_mut().find(|m| m.objective.id == parent) {
                    Some(m) => m.fiscal_year_objectives.push(objective),
                    None => alone.push(objective),
                }
            }
            (Level::FiscalYear, None) => alone.push(objective),
        }
    }
    Ok(ObjectivesTable {
        fiscal_year: fy,
        medium_term,
        fiscal_year_objectives: alone,
        published_version: None,
    })
}

/// The objectives table of `fy`: a closed year's as published unless `view` is `current`.
pub fn table_as(
    conn: &mut AnyConnection,
    fiscal: FiscalCalendar,
    fy: i32,
    view: View,
) -> AppResult<ObjectivesTable> {
    if view != View::Current && closing::is_closed(conn, fy)? {
        let (version, snapshot) = closing::published(conn, fy, None)?;
        if let Some(t) = snapshot.report_objectives {
            return Ok(ObjectivesTable {
                published_version: Some(version),
                ..t
            });
        }
    }
    table(conn, fiscal, fy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(grade: Option<Grade>) -> ObjectiveResult {
        ObjectiveResult {
            metric: Metric::Participants,
            target_kind: "absolute".into(),
            target_value: 1.0,
            actual: None,
            actual_yoy_percent: None,
            ratio: None,
            grade,
        }
    }

    #[test]
    fn several_measures_take_the_lowest_grade() {
        let g = |gs: &[Option<Grade>]| lowest(&gs.iter().map(|g| result(*g)).collect::<Vec<_>>());
        assert_eq!(
            g(&[Some(Grade::MostlyAchieved), Some(Grade::Achieved)]),
            Some(Grade::MostlyAchieved)
        );
        assert_eq!(
            g(&[
                Some(Grade::Achieved),
                Some(Grade::NoProgress),
                Some(Grade::SomeProgress)
            ]),
            Some(Grade::NoProgress)
        );
        assert_eq!(g(&[Some(Grade::Achieved), None]), None);
        assert_eq!(g(&[]), None);
    }
}
