//! The audit log: who changed what (roles, scopes, activation, approvals) and every export.
//!
//! Written in the same transaction as the change it records, so the log cannot miss a change
//! that happened, nor record one that was rolled back. Read newest first with [`list`]; who may
//! read which entries is decided by the caller's feature (`exports::audit_trail`).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::db::schema::{audit_log, users};
use crate::db::{AnyConnection, Id, Timestamp};

/// One entry. `details` holds before/after values or export filters.
pub struct Entry<'a> {
    pub actor: Option<Id>,
    pub action: &'a str,
    pub entity_type: &'a str,
    pub entity_id: Option<String>,
    pub details: Value,
    pub request_id: Option<String>,
}

pub fn record(conn: &mut AnyConnection, entry: Entry<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(Id::new()),
            audit_log::occurred_at.eq(Timestamp::now()),
            audit_log::actor_id.eq(entry.actor),
            audit_log::action.eq(entry.action),
            audit_log::entity_type.eq(entry.entity_type),
            audit_log::entity_id.eq(entry.entity_id),
            audit_log::details.eq(entry.details.to_string()),
            audit_log::request_id.eq(entry.request_id),
        ))
        .execute(conn)
        .map(drop)
}

/// An entry as it is read back.
#[derive(Debug, Serialize, ToSchema)]
pub struct Logged {
    pub id: uuid::Uuid,
    pub occurred_at: DateTime<Utc>,
    /// Who did it (`null` for the system: bootstrap, a reset asked without signing in).
    pub actor_id: Option<uuid::Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub entity_type: String,
    pub entity_id: Option<String>,
    /// Before/after values, or an export's purpose, filters and row count.
    #[schema(value_type = Object)]
    pub details: Value,
    pub request_id: Option<String>,
}

/// Which entries to read.
#[derive(Debug, Default)]
pub struct Filter {
    /// Only actions starting with one of these (e.g. `export.`); `None` = every action.
    pub action_prefixes: Option<Vec<&'static str>>,
    pub action: Option<String>,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub actor_id: Option<Id>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Keyset: entries older than this one (ids are time-ordered).
    pub before: Option<Id>,
    pub limit: i64,
}

/// Entries newest first, up to `limit + 1` (the extra one tells the page there is more).
pub fn list(conn: &mut AnyConnection, f: &Filter) -> QueryResult<Vec<Logged>> {
    let mut q = audit_log::table
        .left_join(users::table.on(users::id.nullable().eq(audit_log::actor_id)))
        .select((
            audit_log::id,
            audit_log::occurred_at,
            audit_log::actor_id,
            users::email.nullable(),
            audit_log::action,
            audit_log::entity_type,
            audit_log::entity_id,
            audit_log::details,
            audit_log::request_id,
        ))
        .into_boxed();
    if let Some(prefixes) = &f.action_prefixes {
        let mut any: Box<dyn BoxableExpression<_, _, SqlType = diesel::sql_types::Bool>> =
            Box::new(diesel::dsl::sql::<diesel::sql_types::Bool>("1 = 0"));
        for p in prefixes {
            let pattern = format!("{}%", p.replace('_', "\\_"));
            any = Box::new(any.or(audit_log::action.like(pattern).escape('\\')));
        }
        q = q.filter(any);
    }
    if let Some(a) = &f.action {
        q = q.filter(audit_log::action.eq(a.clone()));
    }
    if let Some(t) = &f.entity_type {
        q = q.filter(audit_log::entity_type.eq(t.clone()));
    }
    if let Some(e) = &f.entity_id {
        q = q.filter(audit_log::entity_id.eq(e.clone()));
    }
    if let Some(a) = f.actor_id {
        q = q.filter(audit_log::actor_id.eq(a));
    }
    if let Some(from) = f.from {
        q = q.filter(audit_log::occurred_at.ge(from));
    }
    if let Some(to) = f.to {
        q = q.filter(audit_log::occurred_at.lt(to));
    }
    if let Some(before) = f.before {
        q = q.filter(audit_log::id.lt(before));
    }
    type Row = (
        Id,
        Timestamp,
        Option<Id>,
        Option<String>,
        String,
        String,
        Option<String>,
        String,
        Option<String>,
    );
    let rows: Vec<Row> = q
        .order(audit_log::id.desc())
        .limit(f.limit + 1)
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(
            |(id, at, actor, email, action, entity_type, entity_id, details, request_id)| Logged {
                id: id.into(),
                occurred_at: at.into(),
                actor_id: actor.map(Into::into),
                actor_email: email,
                action,
                entity_type,
                entity_id,
                details: serde_json::from_str(&details).unwrap_or(Value::String(details)),
                request_id,
            },
        )
        .collect())
}
