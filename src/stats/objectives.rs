//! Yearly objectives: a target per figure (a value, or growth on the year before) and the
//! grade the report gives it.

use std::collections::BTreeMap;

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit;
use crate::db::schema::objectives;
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, FieldError};
use crate::stats::mdd::{self, Figures, Metric, Scope};
use crate::time::FiscalCalendar;

#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveInput {
    pub metric: Metric,
    /// The value to reach (the implementation rate in percent, e.g. 60).
    pub target: Option<f64>,
    /// Or: growth on the year before, in percent (e.g. 5 for +5 %).
    pub yoy_percent: Option<f64>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectivesInput {
    /// Replaces the year's objectives (at most one per figure).
    pub objectives: Vec<ObjectiveInput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Grade {
    /// At least 100 % of the target.
    Achieved,
    /// At least 70 %.
    MostlyAchieved,
    /// More than 0.
    SomeProgress,
    NoProgress,
}

impl Grade {
    pub const ALL: [Grade; 4] = [
        Grade::Achieved,
        Grade::MostlyAchieved,
        Grade::SomeProgress,
        Grade::NoProgress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Grade::Achieved => "achieved",
            Grade::MostlyAchieved => "mostly_achieved",
            Grade::SomeProgress => "some_progress",
            Grade::NoProgress => "no_progress",
        }
    }

    pub fn parse(s: &str) -> Option<Grade> {
        Grade::ALL.into_iter().find(|g| g.as_str() == s)
    }

    /// The lower of two grades: an objective with several measures is as far as its weakest.
    pub fn lower(self, other: Grade) -> Grade {
        let rank = |g: Grade| Grade::ALL.iter().position(|x| *x == g).unwrap_or(3);
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }

    pub fn of(ratio: f64) -> Grade {
        if ratio >= 1.0 {
            Grade::Achieved
        } else if ratio >= 0.7 {
            Grade::MostlyAchieved
        } else if ratio > 0.0 {
            Grade::SomeProgress
        } else {
            Grade::NoProgress
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ObjectiveResult {
    pub metric: Metric,
    /// `absolute` or `yoy_percent`.
    pub target_kind: String,
    pub target_value: f64,
    /// The figure this year.
    pub actual: Option<f64>,
    /// For growth targets: the growth reached, in percent (`null` if the year before was 0).
    pub actual_yoy_percent: Option<f64>,
    /// Actual over target (growth over targeted growth for `yoy_percent`).
    pub ratio: Option<f64>,
    pub grade: Option<Grade>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Objectives {
    pub fiscal_year: i32,
    pub objectives: Vec<ObjectiveResult>,
    /// A closed year's published version these grades are from (`null`: as they are now).
    #[serde(default)]
    pub published_version: Option<i32>,
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A target names exactly one of a value (at least 0) or a growth (-100 to 1000 %).
pub fn check_target(at: &str, o: &ObjectiveInput) -> Option<FieldError> {
    match (o.target, o.yoy_percent) {
        (Some(t), None) if t.is_finite() && t >= 0.0 => None,
        (Some(_), None) => Some(FieldError::new(
            format!("{at}.target"),
            "out_of_range",
            "a finite value of at least 0",
        )),
        (None, Some(p)) if p.is_finite() && (-100.0..=1000.0).contains(&p) => None,
        (None, Some(_)) => Some(FieldError::new(
            format!("{at}.yoy_percent"),
            "out_of_range",
            "between -100 and 1000",
        )),
        _ => Some(FieldError::new(
            at.to_owned(),
            "one_of",
            "give either target or yoy_percent",
        )),
    }
}

fn check(input: &ObjectivesInput) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = BTreeMap::new();
    for (i, o) in input.objectives.iter().enumerate() {
        if seen.insert(o.metric, i).is_some() {
            errors.push(FieldError::new(
                format!("objectives[{i}].metric"),
                "duplicate",
                "one objective per figure",
            ));
        }
        errors.extend(check_target(&format!("objectives[{i}]"), o));
    }
    errors
}

/// Replaces the objectives of `fy`, by a person or (`None`) the system (the demo seed).
pub fn set(
    conn: &mut AnyConnection,
    fy: i32,
    input: &ObjectivesInput,
    by: Option<Id>,
    request_id: Option<String>,
) -> AppResult<()> {
    let errors = check(input);
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    write_transaction(conn, |conn| {
        diesel::delete(objectives::table.filter(objectives::fiscal_year.eq(fy))).execute(conn)?;
        let now = Timestamp::now();
        for o in &input.objectives {
            let (kind, value) = match (o.target, o.yoy_percent) {
                (Some(t), _) => ("absolute", t),
                (None, Some(p)) => ("yoy_percent", p),
                (None, None) => continue,
            };
            diesel::insert_into(objectives::table)
                .values((
                    objectives::fiscal_year.eq(fy),
                    objectives::metric.eq(o.metric.as_str()),
                    objectives::target_kind.eq(kind),
                    objectives::target_value.eq(value),
                    objectives::updated_by.eq(by),
                    objectives::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        audit::record(
            conn,
            audit::Entry {
                actor: by,
                action: "objectives.set",
                entity_type: "objectives",
                entity_id: Some(fy.to_string()),
                details: json!({ "objectives": input.objectives }),
                request_id,
            },
        )?;
        Ok(())
    })
}

/// The objectives of `fy` with actual figures (the whole group) and grades.
pub fn get(conn: &mut AnyConnection, fiscal: FiscalCalendar, fy: i32) -> AppResult<Objectives> {
    let rows: Vec<(String, String, f64)> = objectives::table
        .filter(objectives::fiscal_year.eq(fy))
        .select((
            objectives::metric,
            objectives::target_kind,
            objectives::target_value,
        ))
        .load(conn)?;
    let figures = mdd::figures(conn, fiscal, fy - 1..=fy, &Scope::default())?;
    let now = figures.get(&fy).copied().unwrap_or_default();
    let before: Figures = figures.get(&(fy - 1)).copied().unwrap_or_default();
    let mut out: Vec<ObjectiveResult> = rows
        .into_iter()
        .filter_map(|(metric, kind, value)| {
            Some(measure(Metric::parse(&metric)?, kind, value, &now, &before))
        })
        .collect();
    out.sort_by_key(|o| o.metric);
    Ok(Objectives {
        fiscal_year: fy,
        objectives: out,
        published_version: None,
    })
}

/// One target graded against the year's figures `now` and the year before's `before`.
pub fn measure(
    metric: Metric,
    kind: String,
    value: f64,
    now: &Figures,
    before: &Figures,
) -> ObjectiveResult {
    let actual = now.get(metric);
    let growth = mdd::change(actual, before.get(metric)).and_then(|c| c.percent);
    let ratio = if kind == "yoy_percent" {
        growth.and_then(|g| (value != 0.0).then(|| g / value))
    } else if value == 0.0 {
        actual.map(|_| 1.0)
    } else {
        actual.map(|a| a / value)
    };
    ObjectiveResult {
        metric,
        target_kind: kind,
        target_value: value,
        actual,
        actual_yoy_percent: growth,
        ratio: ratio.map(round3),
        grade: ratio.map(Grade::of),
    }
}

/// HR and admins set the objectives; everyone signed in reads them.
pub fn require_editor(caller: &crate::auth::Caller) -> AppResult<()> {
    caller.require(&[crate::auth::Role::Hr, crate::auth::Role::Admin])
}

/// Sets the year's objectives as HR or an admin (at most 20; audited) and returns them graded.
pub fn set_as(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    fy: i32,
    input: &ObjectivesInput,
    request_id: Option<String>,
) -> AppResult<Objectives> {
    require_editor(caller)?;
    if input.objectives.len() > 20 {
        return Err(AppError::validation(vec![crate::error::FieldError::new(
            "objectives",
            "too_many",
            "at most 20 objectives a year",
        )]));
    }
    crate::db::write_transaction(conn, |conn| {
        set(conn, fy, input, Some(caller.id), request_id)?;
        // A closed year's grades are published figures too.
        crate::stats::closing::guard(conn, caller, &std::collections::BTreeSet::from([fy]))
    })?;
    let fiscal = crate::stats::rollup::calendar(conn)?;
    get(conn, fiscal, fy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_follow_the_report_thresholds() {
        assert_eq!(Grade::of(1.0), Grade::Achieved);
        assert_eq!(Grade::of(0.733), Grade::MostlyAchieved);
        assert_eq!(Grade::of(0.7), Grade::MostlyAchieved);
        assert_eq!(Grade::of(0.69), Grade::SomeProgress);
        assert_eq!(Grade::of(0.0), Grade::NoProgress);
        assert_eq!(Grade::of(-0.5), Grade::NoProgress);
    }

    #[test]
    fn each_objective_names_one_kind_of_target() {
        let input: ObjectivesInput = serde_json::from_value(json!({"objectives": [
            {"metric": "participants", "target": 10.0},
            {"metric": "participants", "yoy_percent": 5.0},
            {"metric": "sites"},
            {"metric": "programs", "target": -1.0},
        ]}))
        .unwrap();
        let codes: Vec<_> = check(&input).into_iter().map(|e| e.code).collect();
        assert_eq!(codes, ["duplicate", "one_of", "out_of_range"]);
    }
}
