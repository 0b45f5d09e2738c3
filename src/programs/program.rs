//! Programmes: code (unique per site), title, theme, categories, partner, status.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{categories, partners, program_categories, programs, sites};
use crate::db::{AnyConnection, Id, Timestamp};
use crate::error::{AppError, AppResult, FieldError};
use crate::org::{check_code, unique_conflict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Theme {
    Nature,
    Education,
    Community,
}

impl Theme {
    pub fn as_str(self) -> &'static str {
        match self {
            Theme::Nature => "nature",
            Theme::Education => "education",
            Theme::Community => "community",
        }
    }
    pub fn parse(s: &str) -> AppResult<Theme> {
        match s {
            "nature" => Ok(Theme::Nature),
            "education" => Ok(Theme::Education),
            "community" => Ok(Theme::Community),
            o => Err(AppError::internal(format!(
                "unknown theme {o:?} in the database"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProgramStatus {
    Active,
    Archived,
}

impl ProgramStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProgramStatus::Active => "active",
            ProgramStatus::Archived => "archived",
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = programs)]
pub struct ProgramRow {
    pub id: Id,
    pub site_id: Id,
    pub code: String,
    pub title: String,
    pub description: String,
    pub theme: String,
    pub partner_id: Option<Id>,
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A programme of a site.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Program {
    pub id: uuid::Uuid,
    /// The organising site.
    pub site_id: uuid::Uuid,
    /// Unique within the site.
    pub code: String,
    pub title: String,
    pub description: String,
    pub theme: Theme,
    /// Report lines the programme counts in, e.g. `biodiversity`, `disaster_relief`.
    pub categories: Vec<String>,
    pub partner_id: Option<uuid::Uuid>,
    pub status: ProgramStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProgram {
    pub site_id: uuid::Uuid,
    pub code: String,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub theme: Theme,
    #[serde(default)]
    pub categories: Vec<String>,
    pub partner_id: Option<uuid::Uuid>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ProgramPatch {
    pub code: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub theme: Option<Theme>,
    pub categories: Option<Vec<String>>,
    pub partner_id: Option<uuid::Uuid>,
    pub status: Option<ProgramStatus>,
}

fn load_categories(conn: &mut AnyConnection, ids: &[Id]) -> QueryResult<Vec<(Id, String)>> {
    program_categories::table
        .filter(program_categories::program_id.eq_any(ids.to_vec()))
        .select((program_categories::program_id, program_categories::category))
        .order((program_categories::program_id, program_categories::category))
        .load(conn)
}

fn assemble(rows: Vec<ProgramRow>, cats: Vec<(Id, String)>) -> AppResult<Vec<Program>> {
    let mut by_program: std::collections::HashMap<Id, Vec<String>> =
        std::collections::HashMap::new();
    for (p, c) in cats {
        by_program.entry(p).or_default().push(c);
    }
    rows.into_iter()
        .map(|r| {
            Ok(Program {
                id: r.id.into(),
                site_id: r.site_id.into(),
                categories: by_program.remove(&r.id).unwrap_or_default(),
                code: r.code,
                title: r.title,
                description: r.description,
                theme: Theme::parse(&r.theme)?,
                partner_id: r.partner_id.map(Into::into),
                status: if r.status == "archived" {
                    ProgramStatus::Archived
                } else {
                    ProgramStatus::Active
                },
                created_at: r.created_at.into(),
                updated_at: r.updated_at.into(),
            })
        })
        .collect()
}

pub fn find(conn: &mut AnyConnection, id: Id) -> AppResult<Program> {
    let row: ProgramRow = programs::table
        .filter(programs::id.eq(id))
        .select(ProgramRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("no such programme"))?;
    let cats = load_categories(conn, &[id])?;
    assemble(vec![row], cats)?
        .pop()
        .ok_or_else(|| AppError::not_found("no such programme"))
}

#[derive(Debug, Default)]
pub struct ListFilter {
    pub site_id: Option<Id>,
    /// The programme code (unique per site; with `site_id`, at most one).
    pub code: Option<String>,
    pub theme: Option<Theme>,
    pub category: Option<String>,
    pub status: Option<ProgramStatus>,
    pub after: Option<Id>,
    pub limit: i64,
}

pub fn list(conn: &mut AnyConnection, f: &ListFilter) -> AppResult<Vec<Program>> {
    let mut q = programs::table.select(ProgramRow::as_select()).into_boxed();
    if let Some(s) = f.site_id {
        q = q.filter(programs::site_id.eq(s));
    }
    if let Some(code) = &f.code {
        q = q.filter(programs::code.eq(code.trim().to_owned()));
    }
    if let Some(t) = f.theme {
        q = q.filter(programs::theme.eq(t.as_str()));
    }
    if let Some(st) = f.status {
        q = q.filter(programs::status.eq(st.as_str()));
    }
    if let Some(c) = &f.category {
        let with_category = program_categories::table
            .filter(program_categories::category.eq(c.clone()))
            .select(program_categories::program_id);
        q = q.filter(programs::id.eq_any(with_category));
    }
    if let Some(after) = f.after {
        q = q.filter(programs::id.gt(after));
    }
    let rows: Vec<ProgramRow> = q.order(programs::id).limit(f.limit + 1).load(conn)?;
    let ids: Vec<Id> = rows.iter().map(|r| r.id).collect();
    let cats = load_categories(conn, &ids)?;
    assemble(rows, cats)
}

/// A report category: a code programmes are tagged with, and its name.
#[derive(Debug, Serialize, ToSchema, Queryable)]
pub struct Category {
    pub code: String,
    pub label: String,
}

/// Every category, by code.
pub fn categories(conn: &mut AnyConnection) -> AppResult<Vec<Category>> {
    Ok(categories::table
        .select((categories::code, categories::label))
        .order(categories::code)
        .load(conn)?)
}

/// A theme with its name (the themes are fixed).
#[derive(Debug, Serialize, ToSchema)]
pub struct ThemeInfo {
    pub code: Theme,
    pub label: &'static str,
}

pub fn themes() -> Vec<ThemeInfo> {
    [
        (Theme::Nature, "Nature"),
        (Theme::Education, "Education"),
        (Theme::Community, "Community"),
    ]
    .into_iter()
    .map(|(code, label)| ThemeInfo { code, label })
    .collect()
}

/// Checks categories against the `categories` table; returns them sorted and de-duplicated.
fn check_categories(conn: &mut AnyConnection, given: &[String]) -> AppResult<Vec<String>> {
    let mut cats: Vec<String> = given.iter().map(|c| c.trim().to_lowercase()).collect();
    cats.sort();
    cats.dedup();
    if cats.is_empty() {
        return Ok(cats);
    }
    let known: Vec<String> = categories::table
        .filter(categories::code.eq_any(cats.clone()))
        .select(categories::code)
        .load(conn)?;
    let unknown: Vec<&String> = cats.iter().filter(|c| !known.contains(c)).collect();
    if !unknown.is_empty() {
        let valid: Vec<String> = categories::table
            .select(categories::code)
            .order(categories::code)
            .load(conn)?;
        return Err(AppError::validation(vec![FieldError::new(
            "categories",
            "unknown_category",
            format!(
                "unknown categories: {}; the categories are {} (GET /api/v1/categories)",
                unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                valid.join(", ")
            ),
        )]));
    }
    Ok(cats)
}

fn check_partner(conn: &mut AnyConnection, partner: Option<Id>) -> AppResult<()> {
    if let Some(p) = partner {
        let n: i64 = partners::table
            .filter(partners::id.eq(p))
            .count()
            .get_result(conn)?;
        if n == 0 {
            return Err(AppError::validation(vec![FieldError::new(
                "partner_id",
                "unknown_partner",
                "no such partner",
            )]));
        }
    }
    Ok(())
}

fn check_text(code: &str, title: &str) -> Vec<FieldError> {
    let mut e: Vec<FieldError> = check_code("code", code).into_iter().collect();
    if !(1..=200).contains(&title.trim().chars().count()) {
        e.push(FieldError::new(
            "title",
            "invalid_length",
            "1 to 200 characters",
        ));
    }
    e.extend(crate::input::single_line("title", title));
    e
}

fn replace_categories(conn: &mut AnyConnection, program: Id, cats: &[String]) -> QueryResult<()> {
    diesel::delete(program_categories::table.filter(program_categories::program_id.eq(program)))
        .execute(conn)?;
    for c in cats {
        diesel::insert_into(program_categories::table)
            .values((
                program_categories::program_id.eq(program),
                program_categories::category.eq(c),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The site a programme belongs to (for authorization).
pub fn site_of(conn: &mut AnyConnection, program: Id) -> AppResult<Id> {
    programs::table
        .filter(programs::id.eq(program))
        .select(programs::site_id)
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("no such programme"))
}

/// Creates a programme inside the caller's transaction (authorization done by the caller).
pub fn create(conn: &mut AnyConnection, req: &CreateProgram) -> AppResult<Id> {
    let errors = check_text(&req.code, &req.title);
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let site: i64 = sites::table
        .filter(sites::id.eq(Id::from(req.site_id)))
        .count()
        .get_result(conn)?;
    if site == 0 {
        return Err(AppError::validation(vec![FieldError::new(
            "site_id",
            "unknown_site",
            "no such site",
        )]));
    }
    let cats = check_categories(conn, &req.categories)?;
    let partner = req.partner_id.map(Id::from);
    check_partner(conn, partner)?;
    let id = Id::new();
    let now = Timestamp::now();
    diesel::insert_into(programs::table)
        .values((
            programs::id.eq(id),
            programs::site_id.eq(Id::from(req.site_id)),
            programs::code.eq(req.code.trim()),
            programs::title.eq(req.title.trim()),
            programs::description.eq(&req.description),
            programs::theme.eq(req.theme.as_str()),
            programs::partner_id.eq(partner),
            programs::status.eq("active"),
            programs::created_at.eq(now),
            programs::updated_at.eq(now),
        ))
        .execute(conn)
        .map_err(|e| {
            unique_conflict(
                e,
                "program_exists",
                "the site already has a programme with this code",
            )
        })?;
    replace_categories(conn, id, &cats)?;
    Ok(id)
}

pub fn update(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    id: Id,
    p: ProgramPatch,
) -> AppResult<()> {
    // Theme and categories are statistics lines: their participants move with them.
    if p.theme.is_some() || p.categories.is_some() {
        let affects = crate::stats::rollup::Affects::Program(id);
        return crate::stats::rollup::track(conn, caller, &affects, |c| write(c, id, p));
    }
    write(conn, id, p)
}

fn write(conn: &mut AnyConnection, id: Id, p: ProgramPatch) -> AppResult<()> {
    let b = find(conn, id)?;
    let code = p.code.unwrap_or(b.code);
    let title = p.title.unwrap_or(b.title);
    let errors = check_text(&code, &title);
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let partner = p.partner_id.map(Id::from).or(b.partner_id.map(Id::from));
    check_partner(conn, partner)?;
    if let Some(cats) = &p.categories {
        let cats = check_categories(conn, cats)?;
        replace_categories(conn, id, &cats)?;
    }
    diesel::update(programs::table.filter(programs::id.eq(id)))
        .set((
            programs::code.eq(code.trim()),
            programs::title.eq(title.trim()),
            programs::description.eq(p.description.unwrap_or(b.description)),
            programs::theme.eq(p.theme.unwrap_or(b.theme).as_str()),
            programs::partner_id.eq(partner),
            programs::status.eq(p.status.unwrap_or(b.status).as_str()),
            programs::updated_at.eq(Timestamp::now()),
        ))
        .execute(conn)
        .map_err(|e| {
            unique_conflict(
                e,
                "program_exists",
                "the site already has a programme with this code",
            )
        })?;
    Ok(())
}

/// Creates a programme at a site the caller runs, and returns it.
pub fn create_as(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    req: &CreateProgram,
) -> AppResult<Program> {
    crate::programs::require_runs_site(caller, req.site_id.into())?;
    let id = create(conn, req)?;
    find(conn, id)
}

/// Changes a programme of a site the caller runs, and returns it.
pub fn patch_as(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    id: Id,
    patch: ProgramPatch,
) -> AppResult<Program> {
    crate::db::write_transaction(conn, |c| {
        crate::programs::require_runs_site(caller, site_of(c, id)?)?;
        update(c, caller, id, patch)
    })?;
    find(conn, id)
}
