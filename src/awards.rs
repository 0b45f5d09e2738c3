//! The year's awards for outstanding activities, run the way the report describes them.
//!
//! HR sets a fiscal year's award categories (a Grand Award for a domestic and one for an
//! overseas site, Business Oriented, Best Newcomer, …; a category may be for domestic or overseas
//! sites only), the criteria with their weights (business relevance, sustainability, novelty),
//! and the judges — a named set of people, so a panel can mix roles. Coordinators nominate their
//! sites' programmes; only a programme with approved attendance in the year is eligible (the
//! report says "all of the year's programmes with approved attendance are eligible", and the
//! pages show how many there are). Each judge scores each nomination per criterion from 1 to 5,
//! except nominations of their own site (their home site or one they coordinate): nobody judges
//! their own colleagues. A nomination's score is the weighted mean of the judges' average per
//! criterion. HR decides each category's winner; the winners are what the report lists.
//!
//! Categories cannot change once a nomination is made, nor criteria once a score is given: a
//! score given against other criteria would be meaningless. Judges can change at any time.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit;
use crate::auth::{Caller, Role};
use crate::db::schema::{
    award_categories as cat, award_criteria as crit, award_judges as judges,
    award_nominations as nom, award_scores as scores, award_winners as winners, programs, sites,
    stats_program_month as spm, users,
};
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, FieldError};

const MAX_CATEGORIES: usize = 30;
const MAX_CRITERIA: usize = 10;
const MAX_JUDGES: usize = 50;
/// The most eligible programmes one answer lists (`count` still counts them all).
pub const ELIGIBLE_LIMIT: i64 = 500;

pub use crate::org::sites::Region;

/// A region as stored (`None` for anything else).
fn region_of(s: &str) -> Option<Region> {
    match s {
        "domestic" => Some(Region::Domestic),
        "overseas" => Some(Region::Overseas),
        _ => None,
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryInput {
    /// 1 to 100 characters, e.g. "Grand Award".
    pub name: String,
    /// Only sites of this region may be nominated (`null`: any site).
    pub region: Option<Region>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwardCriterionInput {
    /// 1 to 100 characters, e.g. "Business relevance".
    pub name: String,
    /// 1 to 100; a nomination's score weighs each criterion by it.
    pub weight: i32,
}

/// A fiscal year's award categories, criteria and judges.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupInput {
    /// 1 to 30, in the order the report lists them; fixed once a nomination is made.
    pub categories: Vec<CategoryInput>,
    /// 1 to 10; fixed once a score is given.
    pub criteria: Vec<AwardCriterionInput>,
    /// The people who score nominations (up to 50).
    #[serde(default)]
    pub judges: Vec<uuid::Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AwardCategory {
    pub id: uuid::Uuid,
    pub name: String,
    pub region: Option<Region>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AwardCriterion {
    pub id: uuid::Uuid,
    pub name: String,
    pub weight: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Judge {
    pub id: uuid::Uuid,
    pub display_name: String,
    pub email: String,
}

/// A criterion's average over the judges who scored it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CriterionScore {
    pub criterion_id: uuid::Uuid,
    pub average: f64,
    pub judges: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Nomination {
    pub id: uuid::Uuid,
    pub category_id: uuid::Uuid,
    pub program_id: uuid::Uuid,
    pub program_code: String,
    pub program_title: String,
    pub site_id: uuid::Uuid,
    pub site_code: String,
    pub site_name: String,
    pub statement: String,
    pub nominated_by: Option<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    /// Per criterion (HR, admins and judges see scores; others get none).
    pub scores: Vec<CriterionScore>,
    /// The weighted mean of the criterion averages, 1 to 5 (two decimals); `null` unscored.
    pub score: Option<f64>,
    /// How many judges have scored it.
    pub judged_by: i64,
    /// The caller's own scores, when the caller is a judge who has scored it.
    pub your_scores: Vec<AwardScoreInput>,
    pub winner: bool,
}

/// A category's winner, as the report lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Winner {
    pub category_id: uuid::Uuid,
    pub category: String,
    pub region: Option<Region>,
    pub nomination_id: uuid::Uuid,
    pub program_code: String,
    pub program_title: String,
    pub site_code: String,
    pub site_name: String,
}

/// A fiscal year's awards as the caller may see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct Awards {
    pub fiscal_year: i32,
    pub categories: Vec<AwardCategory>,
    pub criteria: Vec<AwardCriterion>,
    /// HR, admins and judges see the panel.
    pub judges: Vec<Judge>,
    /// Whether the caller is one of this year's judges.
    pub you_judge: bool,
    /// Programmes with approved attendance in the year (all sites).
    pub eligible_programs: i64,
    /// HR, admins and judges: all; coordinators: their sites'; employees: none.
    pub nominations: Vec<Nomination>,
    pub winners: Vec<Winner>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EligibleProgram {
    pub program_id: uuid::Uuid,
    pub code: String,
    pub title: String,
    pub site_id: uuid::Uuid,
    pub site_code: String,
    pub region: Region,
    pub participants: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Eligible {
    pub fiscal_year: i32,
    /// Every eligible programme the caller may nominate.
    pub count: i64,
    /// The first 500 of them, by site and code.
    pub programs: Vec<EligibleProgram>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NominationInput {
    pub category_id: uuid::Uuid,
    pub program_id: uuid::Uuid,
    /// Why this programme (1 to 2,000 characters).
    pub statement: String,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AwardScoreInput {
    pub criterion_id: uuid::Uuid,
    /// 1 to 5.
    pub score: i32,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScoresInput {
    /// One score per criterion of the year, all of them.
    pub scores: Vec<AwardScoreInput>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WinnerInput {
    /// A nomination in this category; `null` undoes the decision.
    pub nomination_id: Option<uuid::Uuid>,
}

fn require_hr(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Hr, Role::Admin])
}

fn sees_all(caller: &Caller) -> bool {
    matches!(caller.role, Role::Hr | Role::Admin)
}

fn is_judge(conn: &mut AnyConnection, fy: i32, user: Id) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        judges::table
            .filter(judges::fiscal_year.eq(fy))
            .filter(judges::user_id.eq(user)),
    ))
    .get_result(conn)
}

fn check_setup(input: &SetupInput) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if input.categories.is_empty() || input.categories.len() > MAX_CATEGORIES {
        errors.push(FieldError::new(
            "categories",
            "invalid_length",
            format!("1 to {MAX_CATEGORIES} categories"),
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, c) in input.categories.iter().enumerate() {
        let name = c.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(FieldError::new(
                format!("categories[{i}].name"),
                "invalid_length",
                "1 to 100 characters",
            ));
        } else if !seen.insert((name.to_owned(), c.region.map(Region::as_str))) {
            errors.push(FieldError::new(
                format!("categories[{i}].name"),
                "duplicate",
                "one category per name and region",
            ));
        }
    }
    if input.criteria.is_empty() || input.criteria.len() > MAX_CRITERIA {
        errors.push(FieldError::new(
            "criteria",
            "invalid_length",
            format!("1 to {MAX_CRITERIA} criteria"),
        ));
    }
    let mut names = BTreeSet::new();
    for (i, c) in input.criteria.iter().enumerate() {
        let name = c.name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            errors.push(FieldError::new(
                format!("criteria[{i}].name"),
                "invalid_length",
                "1 to 100 characters",
            ));
        } else if !names.insert(name.to_owned()) {
            errors.push(FieldError::new(
                format!("criteria[{i}].name"),
                "duplicate",
                "one criterion per name",
            ));
        }
        if !(1..=100).contains(&c.weight) {
            errors.push(FieldError::new(
                format!("criteria[{i}].weight"),
                "out_of_range",
                "1 to 100",
            ));
        }
    }
    if input.judges.len() > MAX_JUDGES {
        errors.push(FieldError::new(
            "judges",
            "too_many",
            format!("at most {MAX_JUDGES} judges"),
        ));
    }
    errors
}

/// The year's categories in report order.
pub fn stored_categories(conn: &mut AnyConnection, fy: i32) -> QueryResult<Vec<AwardCategory>> {
    let rows: Vec<(Id, String, Option<String>)> = cat::table
        .filter(cat::fiscal_year.eq(fy))
        .order(cat::position)
        .select((cat::id, cat::name, cat::region))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, region)| AwardCategory {
            id: id.into(),
            name,
            region: region.as_deref().and_then(region_of),
        })
        .collect())
}

/// The ids of the year's criteria, in order.
pub fn stored_criteria_ids(conn: &mut AnyConnection, fy: i32) -> QueryResult<Vec<uuid::Uuid>> {
    Ok(stored_criteria(conn, fy)?
        .into_iter()
        .map(|c| c.id)
        .collect())
}

fn stored_criteria(conn: &mut AnyConnection, fy: i32) -> QueryResult<Vec<AwardCriterion>> {
    let rows: Vec<(Id, String, i32)> = crit::table
        .filter(crit::fiscal_year.eq(fy))
        .order(crit::position)
        .select((crit::id, crit::name, crit::weight))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, weight)| AwardCriterion {
            id: id.into(),
            name,
            weight,
        })
        .collect())
}

/// Sets the year's categories, criteria and judges (HR and admins; audited). Unchanged
/// categories and criteria keep their ids; changing them once the year has nominations
/// (categories) or scores (criteria) is refused.
pub fn set_up(
    conn: &mut AnyConnection,
    caller: Option<&Caller>,
    fy: i32,
    input: &SetupInput,
    request_id: Option<String>,
) -> AppResult<()> {
    if let Some(caller) = caller {
        require_hr(caller)?;
    }
    let errors = check_setup(input);
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let judge_ids: Vec<Id> = input
        .judges
        .iter()
        .copied()
        .map(Id::from)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    write_transaction(conn, |conn| {
        let known: i64 = users::table
            .filter(users::id.eq_any(&judge_ids))
            .filter(users::active.eq(true))
            .count()
            .get_result(conn)?;
        if known != judge_ids.len() as i64 {
            return Err(AppError::validation(vec![FieldError::new(
                "judges",
                "unknown",
                "every judge is an active user",
            )]));
        }
        let current: Vec<CategoryInput> = stored_categories(conn, fy)?
            .into_iter()
            .map(|c| CategoryInput {
                name: c.name,
                region: c.region,
            })
            .collect();
        let wanted: Vec<CategoryInput> = input
            .categories
            .iter()
            .map(|c| CategoryInput {
                name: c.name.trim().to_owned(),
                region: c.region,
            })
            .collect();
        if current != wanted {
            let nominated: i64 = nom::table
                .inner_join(cat::table)
                .filter(cat::fiscal_year.eq(fy))
                .count()
                .get_result(conn)?;
            if nominated > 0 {
                return Err(AppError::conflict(
                    "awards_under_way",
                    format!(
                        "FY{fy} has nominations: its categories stay as they are ({} now)",
                        current.len()
                    ),
                ));
            }
            diesel::delete(cat::table.filter(cat::fiscal_year.eq(fy))).execute(conn)?;
            for (i, c) in wanted.iter().enumerate() {
                diesel::insert_into(cat::table)
                    .values((
                        cat::id.eq(Id::new()),
                        cat::fiscal_year.eq(fy),
                        cat::position.eq(i as i32),
                        cat::name.eq(&c.name),
                        cat::region.eq(c.region.map(Region::as_str)),
                    ))
                    .execute(conn)?;
            }
        }
        let current: Vec<AwardCriterionInput> = stored_criteria(conn, fy)?
            .into_iter()
            .map(|c| AwardCriterionInput {
                name: c.name,
                weight: c.weight,
            })
            .collect();
        let wanted: Vec<AwardCriterionInput> = input
            .criteria
            .iter()
            .map(|c| AwardCriterionInput {
                name: c.name.trim().to_owned(),
                weight: c.weight,
            })
            .collect();
        if current != wanted {
            let scored: i64 = scores::table
                .inner_join(crit::table)
                .filter(crit::fiscal_year.eq(fy))
                .count()
                .get_result(conn)?;
            if scored > 0 {
                return Err(AppError::conflict(
                    "awards_under_way",
                    format!("FY{fy} has scores: its criteria stay as they are"),
                ));
            }
            diesel::delete(crit::table.filter(crit::fiscal_year.eq(fy))).execute(conn)?;
            for (i, c) in wanted.iter().enumerate() {
                diesel::insert_into(crit::table)
                    .values((
                        crit::id.eq(Id::new()),
                        crit::fiscal_year.eq(fy),
                        crit::position.eq(i as i32),
                        crit::name.eq(&c.name),
                        crit::weight.eq(c.weight),
                    ))
                    .execute(conn)?;
            }
        }
        diesel::delete(judges::table.filter(judges::fiscal_year.eq(fy))).execute(conn)?;
        for j in &judge_ids {
            diesel::insert_into(judges::table)
                .values((judges::fiscal_year.eq(fy), judges::user_id.eq(j)))
                .execute(conn)?;
        }
        audit::record(
            conn,
            audit::Entry {
                actor: caller.map(|c| c.id),
                action: "awards.setup",
                entity_type: "awards",
                entity_id: Some(fy.to_string()),
                details: json!({ "setup": input }),
                request_id,
            },
        )?;
        Ok(())
    })
}

/// How many programmes are eligible in `fy` (all sites).
pub fn eligible_count(conn: &mut AnyConnection, fy: i32) -> QueryResult<i64> {
    spm::table
        .filter(spm::fiscal_year.eq(fy))
        .filter(spm::participants.gt(0))
        .select(diesel::dsl::count(spm::program_id).aggregate_distinct())
        .first(conn)
}

/// Whether `program` had approved attendance in `fy`.
fn is_eligible(conn: &mut AnyConnection, fy: i32, program: Id) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        spm::table
            .filter(spm::fiscal_year.eq(fy))
            .filter(spm::program_id.eq(program))
            .filter(spm::participants.gt(0)),
    ))
    .get_result(conn)
}

/// The programmes the caller may nominate in `fy`: a coordinator's sites', everyone's for HR
/// and admins.
pub fn eligible(conn: &mut AnyConnection, caller: &Caller, fy: i32) -> AppResult<Eligible> {
    caller.require(&[Role::Hr, Role::Admin, Role::Coordinator])?;
    let rows: Vec<(Id, i32)> = spm::table
        .filter(spm::fiscal_year.eq(fy))
        .filter(spm::participants.gt(0))
        .select((spm::program_id, spm::participants))
        .load(conn)?;
    let mut participants: HashMap<Id, i64> = HashMap::new();
    for (program, n) in rows {
        *participants.entry(program).or_default() += i64::from(n);
    }
    let ids: Vec<Id> = participants.keys().copied().collect();
    let mut q = programs::table
        .inner_join(sites::table)
        .filter(programs::id.eq_any(&ids))
        .into_boxed();
    if !sees_all(caller) {
        q = q.filter(programs::site_id.eq_any(caller.sites.clone()));
    }
    let mut found: Vec<(Id, String, String, Id, String, String)> = q
        .order((sites::code, programs::code))
        .select((
            programs::id,
            programs::code,
            programs::title,
            sites::id,
            sites::code,
            sites::region,
        ))
        .load(conn)?;
    let count = found.len() as i64;
    found.truncate(ELIGIBLE_LIMIT as usize);
    Ok(Eligible {
        fiscal_year: fy,
        count,
        programs: found
            .into_iter()
            .map(
                |(id, code, title, site, site_code, region)| EligibleProgram {
                    program_id: id.into(),
                    code,
                    title,
                    site_id: site.into(),
                    site_code,
                    region: region_of(&region).unwrap_or(Region::Domestic),
                    participants: participants.get(&id).copied().unwrap_or(0),
                },
            )
            .collect(),
    })
}

fn not_found(what: &str) -> AppError {
    AppError::not_found(format!("no such {what}"))
}

/// The site of `program`, its region, and whether it exists.
fn program_site(conn: &mut AnyConnection, program: Id) -> AppResult<(Id, String)> {
    programs::table
        .inner_join(sites::table)
        .filter(programs::id.eq(program))
        .select((sites::id, sites::region))
        .first(conn)
        .optional()?
        .ok_or_else(|| {
            AppError::validation(vec![FieldError::new(
                "program_id",
                "unknown",
                "no such programme",
            )])
        })
}

/// Nominates a programme for a category (its site's coordinator, HR or an admin; audited).
/// Only a programme with approved attendance in the category's year, at a site of the
/// category's region, and only once per category; not after the category's winner is decided.
pub fn nominate(
    conn: &mut AnyConnection,
    caller: &Caller,
    input: &NominationInput,
    request_id: Option<String>,
) -> AppResult<Id> {
    caller.require(&[Role::Hr, Role::Admin, Role::Coordinator])?;
    nominate_by(conn, Some(caller), input, request_id)
}

/// Nominates for a person or (`None`) the system (the demo seed), eligibility checked alike.
pub fn nominate_by(
    conn: &mut AnyConnection,
    caller: Option<&Caller>,
    input: &NominationInput,
    request_id: Option<String>,
) -> AppResult<Id> {
    let statement = input.statement.trim();
    if statement.is_empty() || statement.chars().count() > 2000 {
        return Err(AppError::validation(vec![FieldError::new(
            "statement",
            "invalid_length",
            "1 to 2,000 characters",
        )]));
    }
    let (category, program) = (Id::from(input.category_id), Id::from(input.program_id));
    let id = Id::new();
    write_transaction(conn, |conn| {
        let (fy, region): (i32, Option<String>) = cat::table
            .find(category)
            .select((cat::fiscal_year, cat::region))
            .first(conn)
            .optional()?
            .ok_or_else(|| {
                AppError::validation(vec![FieldError::new(
                    "category_id",
                    "unknown",
                    "no such award category",
                )])
            })?;
        let (site, site_region) = program_site(conn, program)?;
        if let Some(caller) = caller
            && !sees_all(caller)
            && !caller.coordinates(site)
        {
            return Err(AppError::forbidden(
                "coordinators nominate their own sites' programmes",
            ));
        }
        if !is_eligible(conn, fy, program)? {
            return Err(AppError::validation(vec![FieldError::new(
                "program_id",
                "not_eligible",
                format!("the programme has no approved attendance in FY{fy}"),
            )]));
        }
        if region.as_deref().is_some_and(|r| r != site_region) {
            return Err(AppError::validation(vec![FieldError::new(
                "category_id",
                "wrong_region",
                format!("this category is for {} sites", region.unwrap_or_default()),
            )]));
        }
        let decided: bool = diesel::select(diesel::dsl::exists(
            winners::table.filter(winners::category_id.eq(category)),
        ))
        .get_result(conn)?;
        if decided {
            return Err(AppError::conflict(
                "award_decided",
                "this category's winner is decided",
            ));
        }
        let taken: bool = diesel::select(diesel::dsl::exists(
            nom::table
                .filter(nom::category_id.eq(category))
                .filter(nom::program_id.eq(program)),
        ))
        .get_result(conn)?;
        if taken {
            return Err(AppError::conflict(
                "already_nominated",
                "the programme is already nominated for this category",
            ));
        }
        diesel::insert_into(nom::table)
            .values((
                nom::id.eq(id),
                nom::category_id.eq(category),
                nom::program_id.eq(program),
                nom::statement.eq(statement),
                nom::nominated_by.eq(caller.map(|c| c.id)),
                nom::created_at.eq(Timestamp::now()),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            audit::Entry {
                actor: caller.map(|c| c.id),
                action: "awards.nominate",
                entity_type: "award_nomination",
                entity_id: Some(id.to_string()),
                details: json!({"fiscal_year": fy, "category_id": input.category_id,
                                "program_id": input.program_id}),
                request_id,
            },
        )?;
        Ok(())
    })?;
    Ok(id)
}

/// The year, category and programme site of a nomination.
fn nomination_of(conn: &mut AnyConnection, id: Id) -> AppResult<(i32, Id, Id)> {
    nom::table
        .inner_join(cat::table)
        .inner_join(programs::table)
        .filter(nom::id.eq(id))
        .select((cat::fiscal_year, cat::id, programs::site_id))
        .first(conn)
        .optional()?
        .ok_or_else(|| not_found("nomination"))
}

/// Withdraws a nomination nobody has scored yet (its site's coordinator, HR or an admin).
pub fn withdraw(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: Id,
    request_id: Option<String>,
) -> AppResult<()> {
    caller.require(&[Role::Hr, Role::Admin, Role::Coordinator])?;
    write_transaction(conn, |conn| {
        let (fy, _, site) = nomination_of(conn, id)?;
        if !sees_all(caller) && !caller.coordinates(site) {
            return Err(not_found("nomination"));
        }
        let scored: bool = diesel::select(diesel::dsl::exists(
            scores::table.filter(scores::nomination_id.eq(id)),
        ))
        .get_result(conn)?;
        if scored {
            return Err(AppError::conflict(
                "awards_under_way",
                "judges have scored this nomination",
            ));
        }
        diesel::delete(nom::table.find(id)).execute(conn)?;
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "awards.withdraw",
                entity_type: "award_nomination",
                entity_id: Some(id.to_string()),
                details: json!({"fiscal_year": fy}),
                request_id,
            },
        )?;
        Ok(())
    })
}

/// Whether `site` is the caller's own: their home site or one they coordinate.
fn own_site(caller: &Caller, site: Id) -> bool {
    caller.site_id == Some(site) || caller.sites.contains(&site)
}

/// Records a judge's scores for a nomination, one per criterion of the year (replacing the
/// judge's earlier ones). Only the year's judges; never for their own site's nomination.
pub fn score(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: Id,
    input: &ScoresInput,
    request_id: Option<String>,
) -> AppResult<()> {
    write_transaction(conn, |conn| {
        let (fy, category, site) = nomination_of(conn, id)?;
        if !is_judge(conn, fy, caller.id)? {
            return Err(AppError::forbidden(format!(
                "only FY{fy}'s award judges score nominations"
            )));
        }
        if own_site(caller, site) {
            return Err(AppError::new(
                actix_web::http::StatusCode::FORBIDDEN,
                "own_site",
                "a judge does not score their own site's nomination",
            ));
        }
        let decided: bool = diesel::select(diesel::dsl::exists(
            winners::table.filter(winners::category_id.eq(category)),
        ))
        .get_result(conn)?;
        if decided {
            return Err(AppError::conflict(
                "award_decided",
                "this category's winner is decided",
            ));
        }
        let criteria: BTreeSet<uuid::Uuid> = stored_criteria(conn, fy)?
            .into_iter()
            .map(|c| c.id)
            .collect();
        let pairs: Vec<(uuid::Uuid, i32)> = input
            .scores
            .iter()
            .map(|s| (s.criterion_id, s.score))
            .collect();
        let given = crate::input::score_sheet(&pairs, &criteria).map_err(AppError::validation)?;
        diesel::delete(
            scores::table
                .filter(scores::nomination_id.eq(id))
                .filter(scores::judge_id.eq(caller.id)),
        )
        .execute(conn)?;
        let now = Timestamp::now();
        for (criterion, value) in &given {
            diesel::insert_into(scores::table)
                .values((
                    scores::nomination_id.eq(id),
                    scores::criterion_id.eq(Id::from(*criterion)),
                    scores::judge_id.eq(caller.id),
                    scores::score.eq(value),
                    scores::scored_at.eq(now),
                ))
                .execute(conn)?;
        }
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "awards.score",
                entity_type: "award_nomination",
                entity_id: Some(id.to_string()),
                details: json!({"fiscal_year": fy, "scores": given}),
                request_id,
            },
        )?;
        Ok(())
    })
}

/// Decides (or with `None` undoes) a category's winner (HR and admins; audited).
pub fn decide(
    conn: &mut AnyConnection,
    caller: Option<&Caller>,
    category: Id,
    input: &WinnerInput,
    request_id: Option<String>,
) -> AppResult<()> {
    if let Some(caller) = caller {
        require_hr(caller)?;
    }
    write_transaction(conn, |conn| {
        let fy: i32 = cat::table
            .find(category)
            .select(cat::fiscal_year)
            .first(conn)
            .optional()?
            .ok_or_else(|| not_found("award category"))?;
        diesel::delete(winners::table.filter(winners::category_id.eq(category))).execute(conn)?;
        if let Some(nomination) = input.nomination_id.map(Id::from) {
            let in_category: bool = diesel::select(diesel::dsl::exists(
                nom::table
                    .filter(nom::id.eq(nomination))
                    .filter(nom::category_id.eq(category)),
            ))
            .get_result(conn)?;
            if !in_category {
                return Err(AppError::validation(vec![FieldError::new(
                    "nomination_id",
                    "unknown",
                    "a nomination in this category",
                )]));
            }
            diesel::insert_into(winners::table)
                .values((
                    winners::category_id.eq(category),
                    winners::nomination_id.eq(nomination),
                    winners::decided_by.eq(caller.map(|c| c.id)),
                    winners::decided_at.eq(Timestamp::now()),
                ))
                .execute(conn)?;
        }
        audit::record(
            conn,
            audit::Entry {
                actor: caller.map(|c| c.id),
                action: "awards.decide",
                entity_type: "award_category",
                entity_id: Some(category.to_string()),
                details: json!({"fiscal_year": fy, "nomination_id": input.nomination_id}),
                request_id,
            },
        )?;
        Ok(())
    })
}

/// Category id, name and region; nomination id; programme code and title; site code and name.
type WinnerRow = (
    Id,
    String,
    Option<String>,
    Id,
    String,
    String,
    String,
    String,
);

/// The winners of `fy`, in the order of the categories.
pub fn winners(conn: &mut AnyConnection, fy: i32) -> QueryResult<Vec<Winner>> {
    let rows: Vec<WinnerRow> = winners::table
        .inner_join(nom::table.inner_join(programs::table.inner_join(sites::table)))
        .inner_join(cat::table.on(cat::id.eq(winners::category_id)))
        .filter(cat::fiscal_year.eq(fy))
        .order(cat::position)
        .select((
            cat::id,
            cat::name,
            cat::region,
            nom::id,
            programs::code,
            programs::title,
            sites::code,
            sites::name,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(category_id, category, region, nomination, pcode, ptitle, scode, sname)| Winner {
                category_id: category_id.into(),
                category,
                region: region.as_deref().and_then(region_of),
                nomination_id: nomination.into(),
                program_code: pcode,
                program_title: ptitle,
                site_code: scode,
                site_name: sname,
            },
        )
        .collect())
}

type NominationRow = (
    Id,
    Id,
    Id,
    String,
    String,
    Id,
    String,
    String,
    String,
    Option<Id>,
    Timestamp,
);

/// A fiscal year's awards as the caller may see them (see [`Awards`]).
pub fn overview(conn: &mut AnyConnection, caller: &Caller, fy: i32) -> AppResult<Awards> {
    let judging = is_judge(conn, fy, caller.id)?;
    let full = sees_all(caller) || judging;
    let categories = stored_categories(conn, fy)?;
    let criteria = stored_criteria(conn, fy)?;
    let panel: Vec<(Id, String, String)> = if full {
        judges::table
            .inner_join(users::table.on(users::id.eq(judges::user_id)))
            .filter(judges::fiscal_year.eq(fy))
            .order(users::display_name)
            .select((users::id, users::display_name, users::email))
            .load(conn)?
    } else {
        Vec::new()
    };
    let mut q = nom::table
        .inner_join(cat::table)
        .inner_join(programs::table.inner_join(sites::table))
        .filter(cat::fiscal_year.eq(fy))
        .into_boxed();
    if !full {
        // Coordinators see their sites' nominations; employees none.
        q = q.filter(programs::site_id.eq_any(caller.sites.clone()));
    }
    let rows: Vec<NominationRow> = q
        .order((cat::position, nom::created_at, nom::id))
        .select((
            nom::id,
            nom::category_id,
            programs::id,
            programs::code,
            programs::title,
            sites::id,
            sites::code,
            sites::name,
            nom::statement,
            nom::nominated_by,
            nom::created_at,
        ))
        .load(conn)?;
    let ids: Vec<Id> = rows.iter().map(|r| r.0).collect();
    let given: Vec<(Id, Id, Id, i32)> = if full {
        scores::table
            .filter(scores::nomination_id.eq_any(&ids))
            .select((
                scores::nomination_id,
                scores::criterion_id,
                scores::judge_id,
                scores::score,
            ))
            .load(conn)?
    } else {
        Vec::new()
    };
    let decided: BTreeSet<Id> = winners::table
        .filter(winners::nomination_id.eq_any(&ids))
        .select(winners::nomination_id)
        .load::<Id>(conn)?
        .into_iter()
        .collect();
    let weights: HashMap<uuid::Uuid, i32> = criteria.iter().map(|c| (c.id, c.weight)).collect();
    let nominations = rows
        .into_iter()
        .map(
            |(id, category, program, pcode, ptitle, site, scode, sname, statement, by, at)| {
                let mine: Vec<_> = given.iter().filter(|g| g.0 == id).collect();
                let mut per: BTreeMap<uuid::Uuid, (i64, i64)> = BTreeMap::new();
                let mut who = BTreeSet::new();
                for (_, criterion, judge, value) in &mine {
                    let e = per.entry((*criterion).into()).or_default();
                    e.0 += i64::from(*value);
                    e.1 += 1;
                    who.insert(*judge);
                }
                let scores: Vec<CriterionScore> = per
                    .iter()
                    .map(|(c, (sum, n))| CriterionScore {
                        criterion_id: *c,
                        average: round2(*sum as f64 / *n as f64),
                        judges: *n,
                    })
                    .collect();
                let total_weight: i64 = scores
                    .iter()
                    .map(|s| i64::from(weights.get(&s.criterion_id).copied().unwrap_or(0)))
                    .sum();
                let score = (total_weight > 0).then(|| {
                    let weighted: f64 = per
                        .iter()
                        .map(|(c, (sum, n))| {
                            f64::from(weights.get(c).copied().unwrap_or(0)) * *sum as f64
                                / *n as f64
                        })
                        .sum();
                    round2(weighted / total_weight as f64)
                });
                Nomination {
                    id: id.into(),
                    category_id: category.into(),
                    program_id: program.into(),
                    program_code: pcode,
                    program_title: ptitle,
                    site_id: site.into(),
                    site_code: scode,
                    site_name: sname,
                    statement,
                    nominated_by: by.map(Into::into),
                    created_at: at.get(),
                    scores,
                    score,
                    judged_by: who.len() as i64,
                    your_scores: mine
                        .iter()
                        .filter(|g| g.2 == caller.id)
                        .map(|g| AwardScoreInput {
                            criterion_id: g.1.into(),
                            score: g.3,
                        })
                        .collect(),
                    winner: decided.contains(&id),
                }
            },
        )
        .collect();
    Ok(Awards {
        fiscal_year: fy,
        categories,
        criteria,
        judges: panel
            .into_iter()
            .map(|(id, display_name, email)| Judge {
                id: id.into(),
                display_name,
                email,
            })
            .collect(),
        you_judge: judging,
        eligible_programs: eligible_count(conn, fy)?,
        nominations,
        winners: winners(conn, fy)?,
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
