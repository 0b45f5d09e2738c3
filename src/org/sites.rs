//! Sites: a dated registry. A site is *active* in a period if it was open on any day of it,
//! which is what the implementation rate of the annual report divides by.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{companies, sites};
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, FieldError};
use crate::org::{check_code, check_country, check_name, check_timezone, unique_conflict};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = sites)]
struct Row {
    id: Id,
    code: String,
    name: String,
    company_id: Id,
    country: String,
    region: String,
    timezone: String,
    opened_on: NaiveDate,
    closed_on: Option<NaiveDate>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// Where a site is, as the annual report splits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    Domestic,
    Overseas,
}

impl Region {
    pub fn as_str(self) -> &'static str {
        match self {
            Region::Domestic => "domestic",
            Region::Overseas => "overseas",
        }
    }
    fn parse(s: &str) -> AppResult<Region> {
        match s {
            "domestic" => Ok(Region::Domestic),
            "overseas" => Ok(Region::Overseas),
            other => Err(AppError::internal(format!(
                "unknown region {other:?} in the database"
            ))),
        }
    }
}

/// A site of a group company.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Site {
    pub id: uuid::Uuid,
    pub code: String,
    pub name: String,
    pub company_id: uuid::Uuid,
    pub country: String,
    pub region: Region,
    /// IANA time zone; events at the site are shown in it and counted by its local date.
    pub timezone: String,
    pub opened_on: NaiveDate,
    /// Last day open; `null` while open.
    pub closed_on: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<Row> for Site {
    type Error = AppError;
    fn try_from(r: Row) -> AppResult<Site> {
        Ok(Site {
            id: r.id.into(),
            code: r.code,
            name: r.name,
            company_id: r.company_id.into(),
            country: r.country,
            region: Region::parse(&r.region)?,
            timezone: r.timezone,
            opened_on: r.opened_on,
            closed_on: r.closed_on,
            created_at: r.created_at.into(),
            updated_at: r.updated_at.into(),
        })
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSite {
    pub code: String,
    pub name: String,
    pub company_id: uuid::Uuid,
    pub country: String,
    pub region: Region,
    pub timezone: String,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SitePatch {
    pub code: Option<String>,
    pub name: Option<String>,
    pub company_id: Option<uuid::Uuid>,
    pub country: Option<String>,
    pub region: Option<Region>,
    pub timezone: Option<String>,
    pub opened_on: Option<NaiveDate>,
    /// `null` reopens the site.
    #[serde(default, deserialize_with = "crate::input::double_option")]
    #[schema(value_type = Option<NaiveDate>, nullable)]
    pub closed_on: Option<Option<NaiveDate>>,
}

/// The complete, normalised fields of a site, checked together.
pub struct SiteFields {
    pub code: String,
    pub name: String,
    pub company_id: Id,
    pub country: String,
    pub region: Region,
    pub timezone: String,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
}

impl SiteFields {
    pub fn errors(&self) -> Vec<FieldError> {
        let mut e: Vec<FieldError> = [
            check_code("code", &self.code),
            check_name("name", &self.name),
            check_country("country", &self.country),
            check_timezone("timezone", &self.timezone),
        ]
        .into_iter()
        .flatten()
        .collect();
        if self.closed_on.is_some_and(|c| c < self.opened_on) {
            e.push(FieldError::new(
                "closed_on",
                "before_opened_on",
                "a site closes on or after it opens",
            ));
        }
        e
    }
}

#[derive(Debug, Default)]
pub struct ListFilter {
    pub company_id: Option<Id>,
    pub region: Option<Region>,
    pub country: Option<String>,
    /// Only sites open on this date.
    pub open_on: Option<NaiveDate>,
    /// The site with this code (codes are unique).
    pub code: Option<String>,
    /// Only these sites.
    pub ids: Option<Vec<Id>>,
    pub after: Option<Id>,
    pub limit: i64,
}

pub fn list(conn: &mut AnyConnection, f: &ListFilter) -> AppResult<Vec<Site>> {
    let mut q = sites::table.select(Row::as_select()).into_boxed();
    if let Some(ids) = &f.ids {
        q = q.filter(sites::id.eq_any(ids.clone()));
    }
    if let Some(code) = &f.code {
        q = q.filter(sites::code.eq(code.trim().to_owned()));
    }
    if let Some(c) = f.company_id {
        q = q.filter(sites::company_id.eq(c));
    }
    if let Some(r) = f.region {
        q = q.filter(sites::region.eq(r.as_str()));
    }
    if let Some(c) = &f.country {
        q = q.filter(sites::country.eq(c.to_uppercase()));
    }
    if let Some(d) = f.open_on {
        q = q
            .filter(sites::opened_on.le(d))
            .filter(sites::closed_on.is_null().or(sites::closed_on.ge(d)));
    }
    if let Some(after) = f.after {
        q = q.filter(sites::id.gt(after));
    }
    let rows: Vec<Row> = q.order(sites::id).limit(f.limit + 1).load(conn)?;
    rows.into_iter().map(Site::try_from).collect()
}

/// The names of the sites `ids` (a list page names each event's site without a query per row).
pub fn names(conn: &mut AnyConnection, ids: &[Id]) -> AppResult<Vec<(Id, String)>> {
    Ok(sites::table
        .filter(sites::id.eq_any(ids))
        .select((sites::id, sites::name))
        .load(conn)?)
}

pub fn find(conn: &mut AnyConnection, id: Id) -> AppResult<Site> {
    sites::table
        .filter(sites::id.eq(id))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("no such site"))?
        .try_into()
}

fn company_exists(conn: &mut AnyConnection, id: Id) -> AppResult<()> {
    let n: i64 = companies::table
        .filter(companies::id.eq(id))
        .count()
        .get_result(conn)?;
    if n == 0 {
        return Err(AppError::validation(vec![FieldError::new(
            "company_id",
            "unknown_company",
            "no such company",
        )]));
    }
    Ok(())
}

/// Inserts or (by code) updates a site inside the caller's transaction; returns its id and
/// whether it was created. Shared by the API and the CSV import.
pub fn upsert_by_code(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    f: &SiteFields,
) -> AppResult<(Id, bool)> {
    let existing: Option<Id> = sites::table
        .filter(sites::code.eq(f.code.trim()))
        .select(sites::id)
        .first(conn)
        .optional()?;
    let now = Timestamp::now();
    match existing {
        Some(id) => {
            write_fields(conn, caller, id, f, now)?;
            Ok((id, false))
        }
        None => {
            let id = Id::new();
            diesel::insert_into(sites::table)
                .values((
                    sites::id.eq(id),
                    sites::code.eq(f.code.trim()),
                    sites::name.eq(f.name.trim()),
                    sites::company_id.eq(f.company_id),
                    sites::country.eq(&f.country),
                    sites::region.eq(f.region.as_str()),
                    sites::timezone.eq(&f.timezone),
                    sites::opened_on.eq(f.opened_on),
                    sites::closed_on.eq(f.closed_on),
                    sites::created_at.eq(now),
                    sites::updated_at.eq(now),
                ))
                .execute(conn)
                .map_err(|e| {
                    unique_conflict(e, "site_exists", "a site with this code already exists")
                })?;
            // A site opened in a closed year adds to its active sites.
            let fiscal = crate::stats::rollup::calendar(conn)?;
            let span = (f.opened_on, f.closed_on);
            let years =
                crate::stats::closing::years_site_counts_in(conn, fiscal, span, span, true)?;
            crate::stats::closing::guard(conn, caller, &years)?;
            Ok((id, true))
        }
    }
}

fn write_fields(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    id: Id,
    f: &SiteFields,
    now: Timestamp,
) -> AppResult<()> {
    let (company, region, opened, closed): (Id, String, NaiveDate, Option<NaiveDate>) =
        sites::table
            .filter(sites::id.eq(id))
            .select((
                sites::company_id,
                sites::region,
                sites::opened_on,
                sites::closed_on,
            ))
            .first(conn)?;
    let moved = company != f.company_id || region != f.region.as_str();
    // Its dates decide the years it is an active site in, and its company and region whose
    // active sites it is: a closed year's implementation rates move with them.
    let fiscal = crate::stats::rollup::calendar(conn)?;
    let years = crate::stats::closing::years_site_counts_in(
        conn,
        fiscal,
        (opened, closed),
        (f.opened_on, f.closed_on),
        moved,
    )?;
    if moved {
        // Company and region key statistics scopes: moving a site moves its participants.
        let affects = crate::stats::rollup::Affects::Site(id);
        crate::stats::rollup::track(conn, caller, &affects, |c| write_row(c, id, f, now))?;
    } else {
        write_row(conn, id, f, now)?;
    }
    crate::stats::closing::guard(conn, caller, &years)
}

fn write_row(conn: &mut AnyConnection, id: Id, f: &SiteFields, now: Timestamp) -> AppResult<()> {
    diesel::update(sites::table.filter(sites::id.eq(id)))
        .set((
            sites::code.eq(f.code.trim()),
            sites::name.eq(f.name.trim()),
            sites::company_id.eq(f.company_id),
            sites::country.eq(&f.country),
            sites::region.eq(f.region.as_str()),
            sites::timezone.eq(&f.timezone),
            sites::opened_on.eq(f.opened_on),
            sites::closed_on.eq(f.closed_on),
            sites::updated_at.eq(now),
        ))
        .execute(conn)
        .map_err(|e| unique_conflict(e, "site_exists", "a site with this code already exists"))?;
    Ok(())
}

pub fn create(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    req: CreateSite,
) -> AppResult<Site> {
    super::require_admin(caller)?;
    let fields = SiteFields {
        code: req.code.trim().to_owned(),
        name: req.name.trim().to_owned(),
        company_id: req.company_id.into(),
        country: req.country.trim().to_uppercase(),
        region: req.region,
        timezone: req.timezone.trim().to_owned(),
        opened_on: req.opened_on,
        closed_on: req.closed_on,
    };
    let errors = fields.errors();
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    write_transaction(conn, |conn| {
        company_exists(conn, fields.company_id)?;
        let taken: i64 = sites::table
            .filter(sites::code.eq(&fields.code))
            .count()
            .get_result(conn)?;
        if taken > 0 {
            return Err(AppError::conflict(
                "site_exists",
                "a site with this code already exists",
            ));
        }
        let (id, _) = upsert_by_code(conn, caller, &fields)?;
        find(conn, id)
    })
}

pub fn update(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    id: Id,
    p: SitePatch,
) -> AppResult<Site> {
    super::require_admin(caller)?;
    write_transaction(conn, |conn| {
        let b = find(conn, id)?;
        let fields = SiteFields {
            code: p.code.unwrap_or(b.code).trim().to_owned(),
            name: p.name.unwrap_or(b.name).trim().to_owned(),
            company_id: p.company_id.unwrap_or(b.company_id).into(),
            country: p.country.unwrap_or(b.country).trim().to_uppercase(),
            region: p.region.unwrap_or(b.region),
            timezone: p.timezone.unwrap_or(b.timezone).trim().to_owned(),
            opened_on: p.opened_on.unwrap_or(b.opened_on),
            closed_on: p.closed_on.unwrap_or(b.closed_on),
        };
        let errors = fields.errors();
        if !errors.is_empty() {
            return Err(AppError::validation(errors));
        }
        company_exists(conn, fields.company_id)?;
        write_fields(conn, caller, id, &fields, Timestamp::now())?;
        find(conn, id)
    })
}

/// The ids of a company's sites, as a sub-query: lists filter `site_id IN (...)` this way rather
/// than joining `sites`, which keeps PostgreSQL on the list's own index.
pub fn of_company(
    company: Id,
) -> diesel::dsl::Select<
    diesel::dsl::Filter<sites::table, diesel::dsl::Eq<sites::company_id, Id>>,
    sites::id,
> {
    sites::table
        .filter(sites::company_id.eq(company))
        .select(sites::id)
}

/// The ids of a region's sites, as a sub-query (see [`of_company`]).
pub fn in_region(
    region: String,
) -> diesel::dsl::Select<
    diesel::dsl::Filter<sites::table, diesel::dsl::Eq<sites::region, String>>,
    sites::id,
> {
    sites::table
        .filter(sites::region.eq(region))
        .select(sites::id)
}
