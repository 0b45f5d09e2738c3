//! The yearly review of every programme.
//!
//! At the end of each fiscal year every programme that ran in it (approved attendance, the same
//! programmes the report's table counts) is reviewed against criteria grouped by point of view:
//! society's (public interest — social inclusion; effectiveness — output, outcome, impact) and
//! the company's (strategy — collaboration with NPOs; effectiveness — contribution to business,
//! human-resources development, corporate image). Those eight come with the database; HR may
//! rename them, add more and retire some (a retired criterion keeps its old scores). A review is
//! a score from 1 to 5 per active criterion and comments, one per programme and year, written by
//! the programme's site coordinator or HR and rewritable. The year's page lists the programmes
//! not yet reviewed and the averages per criterion, per programme theme and per site.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit;
use crate::auth::{Caller, Role};
use crate::db::schema::{
    program_review_scores as prs, program_reviews as pr, programs, review_criteria as rc, sites,
    stats_program_month as spm,
};
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, FieldError};

const MAX_CRITERIA: usize = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PointOfView {
    Society,
    Company,
}

impl PointOfView {
    fn as_str(self) -> &'static str {
        match self {
            PointOfView::Society => "society",
            PointOfView::Company => "company",
        }
    }

    fn parse(s: &str) -> PointOfView {
        if s == "company" {
            PointOfView::Company
        } else {
            PointOfView::Society
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReviewCriterion {
    pub id: uuid::Uuid,
    /// The built-in criterion this is (pages name it in the reader's language); `null` for
    /// one HR added.
    pub code: Option<String>,
    pub point_of_view: PointOfView,
    /// The group within the point of view, e.g. "Effectiveness".
    pub theme: String,
    pub name: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewCriterionInput {
    /// An existing criterion to keep (renamed as given); none for a new one.
    pub id: Option<uuid::Uuid>,
    pub point_of_view: PointOfView,
    /// 1 to 100 characters.
    pub theme: String,
    /// 1 to 100 characters.
    pub name: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CriteriaInput {
    /// The active criteria in order (1 to 30); those left out are retired.
    pub criteria: Vec<ReviewCriterionInput>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewScoreInput {
    pub criterion_id: uuid::Uuid,
    /// 1 to 5.
    pub score: i32,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewInput {
    /// One score per active criterion.
    pub scores: Vec<ReviewScoreInput>,
    /// Up to 4,000 characters.
    #[serde(default)]
    pub comments: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewScore {
    pub criterion_id: uuid::Uuid,
    pub score: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Review {
    pub id: uuid::Uuid,
    pub program_id: uuid::Uuid,
    pub program_code: String,
    pub program_title: String,
    pub theme: String,
    pub site_id: uuid::Uuid,
    pub site_code: String,
    pub scores: Vec<ReviewScore>,
    /// The mean of its scores (two decimals).
    pub average: f64,
    pub comments: String,
    pub reviewer_id: Option<uuid::Uuid>,
    pub reviewed_at: DateTime<Utc>,
}

/// A programme that ran in the year and has no review yet.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unreviewed {
    pub program_id: uuid::Uuid,
    pub program_code: String,
    pub program_title: String,
    pub theme: String,
    pub site_id: uuid::Uuid,
    pub site_code: String,
}

/// Mean scores of a group of reviews: per criterion and over all.
#[derive(Debug, Serialize, ToSchema)]
pub struct Averages {
    /// The group: a programme theme, a site code, or `all`.
    pub key: String,
    pub reviews: i64,
    pub overall: Option<f64>,
    /// ReviewCriterion id → mean score.
    pub by_criterion: BTreeMap<String, f64>,
    /// `society` / `company` → mean score.
    pub by_point_of_view: BTreeMap<String, f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct YearReviews {
    pub fiscal_year: i32,
    /// The active criteria, in order.
    pub criteria: Vec<ReviewCriterion>,
    /// The programmes that ran in the year (the caller's sites for a coordinator).
    pub programs_to_review: i64,
    pub reviews: Vec<Review>,
    pub not_reviewed: Vec<Unreviewed>,
    pub averages: Averages,
    pub by_theme: Vec<Averages>,
    pub by_site: Vec<Averages>,
}

fn require_reviewer(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Hr, Role::Admin, Role::Coordinator])
}

fn sees_all(caller: &Caller) -> bool {
    matches!(caller.role, Role::Hr | Role::Admin)
}

fn all_criteria(conn: &mut AnyConnection) -> QueryResult<Vec<(ReviewCriterion, bool)>> {
    let rows: Vec<(Id, Option<String>, String, String, String, bool)> = rc::table
        .order((rc::active.desc(), rc::position))
        .select((
            rc::id,
            rc::code,
            rc::point_of_view,
            rc::theme,
            rc::name,
            rc::active,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, code, pov, theme, name, active)| {
            (
                ReviewCriterion {
                    id: id.into(),
                    code,
                    point_of_view: PointOfView::parse(&pov),
                    theme,
                    name,
                },
                active,
            )
        })
        .collect())
}

/// The active criteria, in order.
pub fn criteria(conn: &mut AnyConnection) -> AppResult<Vec<ReviewCriterion>> {
    Ok(all_criteria(conn)?
        .into_iter()
        .filter_map(|(c, active)| active.then_some(c))
        .collect())
}

/// Replaces the active criteria (HR and admins; audited): listed ones in order, new ones added,
/// the rest retired with their scores kept.
pub fn set_criteria(
    conn: &mut AnyConnection,
    caller: &Caller,
    input: &CriteriaInput,
    request_id: Option<String>,
) -> AppResult<Vec<ReviewCriterion>> {
    caller.require(&[Role::Hr, Role::Admin])?;
    let mut errors = Vec::new();
    if input.criteria.is_empty() || input.criteria.len() > MAX_CRITERIA {
        errors.push(FieldError::new(
            "criteria",
            "invalid_length",
            format!("1 to {MAX_CRITERIA} criteria"),
        ));
    }
    let mut ids = BTreeSet::new();
    for (i, c) in input.criteria.iter().enumerate() {
        for (field, text) in [("theme", &c.theme), ("name", &c.name)] {
            let t = text.trim();
            if t.is_empty() || t.chars().count() > 100 {
                errors.push(FieldError::new(
                    format!("criteria[{i}].{field}"),
                    "invalid_length",
                    "1 to 100 characters",
                ));
            }
        }
        if let Some(id) = c.id
            && !ids.insert(id)
        {
            errors.push(FieldError::new(
                format!("criteria[{i}].id"),
                "duplicate",
                "each criterion once",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    write_transaction(conn, |conn| {
        let stored: HashMap<uuid::Uuid, ReviewCriterion> = all_criteria(conn)?
            .into_iter()
            .map(|(c, _)| (c.id, c))
            .collect();
        let known: BTreeSet<uuid::Uuid> = stored.keys().copied().collect();
        if let Some(i) = input
            .criteria
            .iter()
            .position(|c| c.id.is_some_and(|id| !known.contains(&id)))
        {
            return Err(AppError::validation(vec![FieldError::new(
                format!("criteria[{i}].id"),
                "unknown",
                "no such criterion",
            )]));
        }
        diesel::update(rc::table)
            .set(rc::active.eq(false))
            .execute(conn)?;
        for (i, c) in input.criteria.iter().enumerate() {
            let values = (
                rc::point_of_view.eq(c.point_of_view.as_str()),
                rc::theme.eq(c.theme.trim()),
                rc::name.eq(c.name.trim()),
                rc::position.eq(i as i32 + 1),
                rc::active.eq(true),
            );
            match c.id {
                Some(id) => {
                    diesel::update(rc::table.find(Id::from(id)))
                        .set(values)
                        .execute(conn)?;
                    // A built-in criterion renamed is HR's own: the pages show its new words
                    // instead of the catalogue's.
                    let renamed = stored.get(&id).is_some_and(|was| {
                        was.name != c.name.trim()
                            || was.theme != c.theme.trim()
                            || was.point_of_view != c.point_of_view
                    });
                    if renamed {
                        diesel::update(rc::table.find(Id::from(id)))
                            .set(rc::code.eq(None::<String>))
                            .execute(conn)?;
                    }
                }
                None => {
                    diesel::insert_into(rc::table)
                        .values((rc::id.eq(Id::new()), values))
                        .execute(conn)?;
                }
            }
        }
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "reviews.criteria",
                entity_type: "review_criteria",
                entity_id: None,
                details: json!({ "criteria": input.criteria }),
                request_id,
            },
        )?;
        Ok::<_, AppError>(())
    })?;
    criteria(conn)
}

/// The programmes that ran in `fy` (approved attendance).
fn ran_in(conn: &mut AnyConnection, fy: i32) -> QueryResult<BTreeSet<Id>> {
    Ok(spm::table
        .filter(spm::fiscal_year.eq(fy))
        .filter(spm::participants.gt(0))
        .select(spm::program_id)
        .distinct()
        .load::<Id>(conn)?
        .into_iter()
        .collect())
}

/// Writes (or rewrites) the review of `program` for `fy`: its site's coordinator, HR or an
/// admin; a programme that ran in the year; a score from 1 to 5 for every active criterion.
pub fn review(
    conn: &mut AnyConnection,
    caller: Option<&Caller>,
    fy: i32,
    program: Id,
    input: &ReviewInput,
    request_id: Option<String>,
) -> AppResult<()> {
    if let Some(caller) = caller {
        require_reviewer(caller)?;
    }
    let comments = input.comments.trim();
    if comments.chars().count() > 4000 {
        return Err(AppError::validation(vec![FieldError::new(
            "comments",
            "invalid_length",
            "at most 4,000 characters",
        )]));
    }
    write_transaction(conn, |conn| {
        let site: Id = programs::table
            .find(program)
            .select(programs::site_id)
            .first(conn)
            .optional()?
            .ok_or_else(|| AppError::not_found("no such programme"))?;
        if let Some(caller) = caller
            && !sees_all(caller)
            && !caller.coordinates(site)
        {
            return Err(AppError::forbidden(
                "coordinators review their own sites' programmes",
            ));
        }
        if !ran_in(conn, fy)?.contains(&program) {
            return Err(AppError::conflict(
                "not_run_in_year",
                format!("the programme has no approved attendance in FY{fy}: nothing to review"),
            ));
        }
        let active: BTreeSet<uuid::Uuid> = criteria(conn)?.into_iter().map(|c| c.id).collect();
        let pairs: Vec<(uuid::Uuid, i32)> = input
            .scores
            .iter()
            .map(|s| (s.criterion_id, s.score))
            .collect();
        let given = crate::input::score_sheet(&pairs, &active).map_err(AppError::validation)?;
        let existing: Option<Id> = pr::table
            .filter(pr::fiscal_year.eq(fy))
            .filter(pr::program_id.eq(program))
            .select(pr::id)
            .first(conn)
            .optional()?;
        let now = Timestamp::now();
        let id = match existing {
            Some(id) => {
                diesel::update(pr::table.find(id))
                    .set((
                        pr::reviewer_id.eq(caller.map(|c| c.id)),
                        pr::comments.eq(comments),
                        pr::reviewed_at.eq(now),
                    ))
                    .execute(conn)?;
                diesel::delete(prs::table.filter(prs::review_id.eq(id))).execute(conn)?;
                id
            }
            None => {
                let id = Id::new();
                diesel::insert_into(pr::table)
                    .values((
                        pr::id.eq(id),
                        pr::fiscal_year.eq(fy),
                        pr::program_id.eq(program),
                        pr::reviewer_id.eq(caller.map(|c| c.id)),
                        pr::comments.eq(comments),
                        pr::reviewed_at.eq(now),
                    ))
                    .execute(conn)?;
                id
            }
        };
        for (criterion, score) in &given {
            diesel::insert_into(prs::table)
                .values((
                    prs::review_id.eq(id),
                    prs::criterion_id.eq(Id::from(*criterion)),
                    prs::score.eq(score),
                ))
                .execute(conn)?;
        }
        audit::record(
            conn,
            audit::Entry {
                actor: caller.map(|c| c.id),
                action: "reviews.review",
                entity_type: "program_review",
                entity_id: Some(id.to_string()),
                details: json!({"fiscal_year": fy, "program_id": program.to_string(),
                                "scores": given}),
                request_id,
            },
        )?;
        Ok(())
    })
}

fn mean(sum: i64, n: i64) -> Option<f64> {
    (n > 0).then(|| ((sum as f64 / n as f64) * 100.0).round() / 100.0)
}

/// Averages of `reviews` under `key`.
fn averages(key: String, reviews: &[&Review], pov: &HashMap<uuid::Uuid, PointOfView>) -> Averages {
    let mut per: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut per_pov: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let (mut sum, mut n) = (0, 0);
    for r in reviews {
        for s in &r.scores {
            let e = per.entry(s.criterion_id.to_string()).or_default();
            e.0 += i64::from(s.score);
            e.1 += 1;
            if let Some(p) = pov.get(&s.criterion_id) {
                let e = per_pov.entry(p.as_str().to_owned()).or_default();
                e.0 += i64::from(s.score);
                e.1 += 1;
            }
            sum += i64::from(s.score);
            n += 1;
        }
    }
    let means = |m: BTreeMap<String, (i64, i64)>| {
        m.into_iter()
            .filter_map(|(k, (s, n))| Some((k, mean(s, n)?)))
            .collect()
    };
    Averages {
        key,
        reviews: reviews.len() as i64,
        overall: mean(sum, n),
        by_criterion: means(per),
        by_point_of_view: means(per_pov),
    }
}

type ProgramRow = (Id, String, String, String, Id, String);

/// The year's reviews as the caller may see them: HR and admins all sites, a coordinator theirs.
pub fn year(conn: &mut AnyConnection, caller: &Caller, fy: i32) -> AppResult<YearReviews> {
    require_reviewer(caller)?;
    let ran = ran_in(conn, fy)?;
    let mut q = programs::table
        .inner_join(sites::table)
        .filter(programs::id.eq_any(ran.iter().copied().collect::<Vec<_>>()))
        .into_boxed();
    if !sees_all(caller) {
        q = q.filter(programs::site_id.eq_any(caller.sites.clone()));
    }
    let programs: Vec<ProgramRow> = q
        .order((sites::code, programs::code))
        .select((
            programs::id,
            programs::code,
            programs::title,
            programs::theme,
            sites::id,
            sites::code,
        ))
        .load(conn)?;
    let ids: Vec<Id> = programs.iter().map(|p| p.0).collect();
    let stored: Vec<(Id, Id, Option<Id>, String, Timestamp)> = pr::table
        .filter(pr::fiscal_year.eq(fy))
        .filter(pr::program_id.eq_any(&ids))
        .select((
            pr::id,
            pr::program_id,
            pr::reviewer_id,
            pr::comments,
            pr::reviewed_at,
        ))
        .load(conn)?;
    let review_ids: Vec<Id> = stored.iter().map(|r| r.0).collect();
    let scores: Vec<(Id, Id, i32)> = prs::table
        .filter(prs::review_id.eq_any(&review_ids))
        .select((prs::review_id, prs::criterion_id, prs::score))
        .load(conn)?;
    let mut scores_of: HashMap<Id, Vec<ReviewScore>> = HashMap::new();
    for (review, criterion, score) in scores {
        scores_of.entry(review).or_default().push(ReviewScore {
            criterion_id: criterion.into(),
            score,
        });
    }
    let by_program: HashMap<Id, (Id, Option<Id>, String, Timestamp)> = stored
        .into_iter()
        .map(|(id, program, by, comments, at)| (program, (id, by, comments, at)))
        .collect();
    let mut reviews = Vec::new();
    let mut not_reviewed = Vec::new();
    for (program, code, title, theme, site, site_code) in programs.iter().cloned() {
        match by_program.get(&program) {
            Some((id, by, comments, at)) => {
                let scores = scores_of.remove(id).unwrap_or_default();
                let total: i64 = scores.iter().map(|s| i64::from(s.score)).sum();
                reviews.push(Review {
                    id: (*id).into(),
                    program_id: program.into(),
                    program_code: code,
                    program_title: title,
                    theme,
                    site_id: site.into(),
                    site_code,
                    average: mean(total, scores.len() as i64).unwrap_or(0.0),
                    scores,
                    comments: comments.clone(),
                    reviewer_id: by.map(Into::into),
                    reviewed_at: at.get(),
                });
            }
            None => not_reviewed.push(Unreviewed {
                program_id: program.into(),
                program_code: code,
                program_title: title,
                theme,
                site_id: site.into(),
                site_code,
            }),
        }
    }
    let all = all_criteria(conn)?;
    let pov: HashMap<uuid::Uuid, PointOfView> =
        all.iter().map(|(c, _)| (c.id, c.point_of_view)).collect();
    let group = |key: fn(&Review) -> &str| {
        let mut groups: BTreeMap<String, Vec<&Review>> = BTreeMap::new();
        for r in &reviews {
            groups.entry(key(r).to_owned()).or_default().push(r);
        }
        groups
            .into_iter()
            .map(|(k, rs)| averages(k, &rs, &pov))
            .collect::<Vec<_>>()
    };
    let by_theme = group(|r| &r.theme);
    let by_site = group(|r| &r.site_code);
    let everything = averages("all".to_owned(), &reviews.iter().collect::<Vec<_>>(), &pov);
    Ok(YearReviews {
        fiscal_year: fy,
        criteria: all
            .into_iter()
            .filter_map(|(c, active)| active.then_some(c))
            .collect(),
        programs_to_review: programs.len() as i64,
        reviews,
        not_reviewed,
        averages: everything,
        by_theme,
        by_site,
    })
}
