//! Group companies.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::companies;
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, FieldError};
use crate::org::{check_code, check_country, check_name, unique_conflict};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = companies)]
struct Row {
    id: Id,
    code: String,
    name: String,
    country: String,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// A group company.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Company {
    pub id: uuid::Uuid,
    /// Short unique code, e.g. `ACME-JP`.
    pub code: String,
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Row> for Company {
    fn from(r: Row) -> Self {
        Company {
            id: r.id.into(),
            code: r.code,
            name: r.name,
            country: r.country,
            created_at: r.created_at.into(),
            updated_at: r.updated_at.into(),
        }
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCompany {
    pub code: String,
    pub name: String,
    pub country: String,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct CompanyPatch {
    pub code: Option<String>,
    pub name: Option<String>,
    pub country: Option<String>,
}

fn validate(code: &str, name: &str, country: &str) -> Vec<FieldError> {
    [
        check_code("code", code),
        check_name("name", name),
        check_country("country", country),
    ]
    .into_iter()
    .flatten()
    .collect()
}

pub fn list(conn: &mut AnyConnection, after: Option<Id>, limit: i64) -> AppResult<Vec<Company>> {
    let mut q = companies::table.select(Row::as_select()).into_boxed();
    if let Some(after) = after {
        q = q.filter(companies::id.gt(after));
    }
    let rows: Vec<Row> = q.order(companies::id).limit(limit + 1).load(conn)?;
    Ok(rows.into_iter().map(Company::from).collect())
}

pub fn find(conn: &mut AnyConnection, id: Id) -> AppResult<Company> {
    companies::table
        .filter(companies::id.eq(id))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .map(Company::from)
        .ok_or_else(|| AppError::not_found("no such company"))
}

pub fn create(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    req: CreateCompany,
) -> AppResult<Company> {
    super::require_admin(caller)?;
    let country = req.country.trim().to_uppercase();
    let errors = validate(&req.code, &req.name, &country);
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let id = Id::new();
    let now = Timestamp::now();
    write_transaction(conn, |conn| {
        diesel::insert_into(companies::table)
            .values((
                companies::id.eq(id),
                companies::code.eq(req.code.trim()),
                companies::name.eq(req.name.trim()),
                companies::country.eq(&country),
                companies::created_at.eq(now),
                companies::updated_at.eq(now),
            ))
            .execute(conn)
            .map_err(|e| {
                unique_conflict(
                    e,
                    "company_exists",
                    "a company with this code already exists",
                )
            })?;
        find(conn, id)
    })
}

pub fn update(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    id: Id,
    patch: CompanyPatch,
) -> AppResult<Company> {
    super::require_admin(caller)?;
    write_transaction(conn, |conn| {
        let before = find(conn, id)?;
        let code = patch.code.unwrap_or(before.code);
        let name = patch.name.unwrap_or(before.name);
        let country = patch
            .country
            .unwrap_or(before.country)
            .trim()
            .to_uppercase();
        let errors = validate(&code, &name, &country);
        if !errors.is_empty() {
            return Err(AppError::validation(errors));
        }
        diesel::update(companies::table.filter(companies::id.eq(id)))
            .set((
                companies::code.eq(code.trim()),
                companies::name.eq(name.trim()),
                companies::country.eq(&country),
                companies::updated_at.eq(Timestamp::now()),
            ))
            .execute(conn)
            .map_err(|e| {
                unique_conflict(
                    e,
                    "company_exists",
                    "a company with this code already exists",
                )
            })?;
        find(conn, id)
    })
}
