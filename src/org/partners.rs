//! Partner organisations: NPOs, NGOs, municipalities and schools that programmes work with.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::partners;
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, FieldError};
use crate::org::{check_country, check_name, unique_conflict};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PartnerKind {
    Npo,
    Ngo,
    Municipality,
    School,
    Other,
}

impl PartnerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            PartnerKind::Npo => "npo",
            PartnerKind::Ngo => "ngo",
            PartnerKind::Municipality => "municipality",
            PartnerKind::School => "school",
            PartnerKind::Other => "other",
        }
    }
    fn parse(s: &str) -> AppResult<PartnerKind> {
        [
            PartnerKind::Npo,
            PartnerKind::Ngo,
            PartnerKind::Municipality,
            PartnerKind::School,
            PartnerKind::Other,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .ok_or_else(|| AppError::internal(format!("unknown partner kind {s:?} in the database")))
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = partners)]
struct Row {
    id: Id,
    name: String,
    kind: String,
    country: Option<String>,
    website: Option<String>,
    contact_email: Option<String>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Partner {
    pub id: uuid::Uuid,
    pub name: String,
    pub kind: PartnerKind,
    pub country: Option<String>,
    pub website: Option<String>,
    pub contact_email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<Row> for Partner {
    type Error = AppError;
    fn try_from(r: Row) -> AppResult<Partner> {
        Ok(Partner {
            id: r.id.into(),
            name: r.name,
            kind: PartnerKind::parse(&r.kind)?,
            country: r.country,
            website: r.website,
            contact_email: r.contact_email,
            created_at: r.created_at.into(),
            updated_at: r.updated_at.into(),
        })
    }
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePartner {
    pub name: String,
    pub kind: PartnerKind,
    pub country: Option<String>,
    pub website: Option<String>,
    pub contact_email: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct PartnerPatch {
    pub name: Option<String>,
    pub kind: Option<PartnerKind>,
    pub country: Option<String>,
    pub website: Option<String>,
    pub contact_email: Option<String>,
}

struct Fields {
    name: String,
    kind: PartnerKind,
    country: Option<String>,
    website: Option<String>,
    contact_email: Option<String>,
}

fn blank_to_none(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

impl Fields {
    fn errors(&self) -> Vec<FieldError> {
        let mut e: Vec<FieldError> = check_name("name", &self.name).into_iter().collect();
        if let Some(c) = &self.country {
            e.extend(check_country("country", c));
        }
        if let Some(w) = &self.website
            && !(w.starts_with("https://") || w.starts_with("http://"))
        {
            e.push(FieldError::new(
                "website",
                "invalid_format",
                "an http(s) URL",
            ));
        }
        if let Some(m) = &self.contact_email
            && !m.contains('@')
        {
            e.push(FieldError::new(
                "contact_email",
                "invalid_format",
                "an email address",
            ));
        }
        e
    }
}

pub fn list(conn: &mut AnyConnection, after: Option<Id>, limit: i64) -> AppResult<Vec<Partner>> {
    let mut q = partners::table.select(Row::as_select()).into_boxed();
    if let Some(after) = after {
        q = q.filter(partners::id.gt(after));
    }
    let rows: Vec<Row> = q.order(partners::id).limit(limit + 1).load(conn)?;
    rows.into_iter().map(Partner::try_from).collect()
}

pub fn find(conn: &mut AnyConnection, id: Id) -> AppResult<Partner> {
    partners::table
        .filter(partners::id.eq(id))
        .select(Row::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AppError::not_found("no such partner"))?
        .try_into()
}

fn write(conn: &mut AnyConnection, id: Option<Id>, f: Fields) -> AppResult<Partner> {
    let errors = f.errors();
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let now = Timestamp::now();
    let conflict = |e| {
        unique_conflict(
            e,
            "partner_exists",
            "a partner with this name already exists",
        )
    };
    let id = match id {
        Some(id) => {
            diesel::update(partners::table.filter(partners::id.eq(id)))
                .set((
                    partners::name.eq(f.name.trim()),
                    partners::kind.eq(f.kind.as_str()),
                    partners::country.eq(&f.country),
                    partners::website.eq(&f.website),
                    partners::contact_email.eq(&f.contact_email),
                    partners::updated_at.eq(now),
                ))
                .execute(conn)
                .map_err(conflict)?;
            id
        }
        None => {
            let id = Id::new();
            diesel::insert_into(partners::table)
                .values((
                    partners::id.eq(id),
                    partners::name.eq(f.name.trim()),
                    partners::kind.eq(f.kind.as_str()),
                    partners::country.eq(&f.country),
                    partners::website.eq(&f.website),
                    partners::contact_email.eq(&f.contact_email),
                    partners::created_at.eq(now),
                    partners::updated_at.eq(now),
                ))
                .execute(conn)
                .map_err(conflict)?;
            id
        }
    };
    find(conn, id)
}

pub fn create(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    req: CreatePartner,
) -> AppResult<Partner> {
    super::require_admin(caller)?;
    let fields = Fields {
        name: req.name,
        kind: req.kind,
        country: blank_to_none(req.country).map(|c| c.to_uppercase()),
        website: blank_to_none(req.website),
        contact_email: blank_to_none(req.contact_email),
    };
    write_transaction(conn, |conn| write(conn, None, fields))
}

pub fn update(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    id: Id,
    p: PartnerPatch,
) -> AppResult<Partner> {
    super::require_admin(caller)?;
    write_transaction(conn, |conn| {
        let b = find(conn, id)?;
        let fields = Fields {
            name: p.name.unwrap_or(b.name),
            kind: p.kind.unwrap_or(b.kind),
            country: blank_to_none(p.country.or(b.country)).map(|c| c.to_uppercase()),
            website: blank_to_none(p.website.or(b.website)),
            contact_email: blank_to_none(p.contact_email.or(b.contact_email)),
        };
        write(conn, Some(id), fields)
    })
}
