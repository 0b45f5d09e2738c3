//! The audit log: who changed what (roles, scopes, activation, approvals) and every export.
//!
//! Written in the same transaction as the change it records, so the log cannot miss a change
//! that happened, nor record one that was rolled back.

use diesel::prelude::*;
use serde_json::Value;

use crate::db::schema::audit_log;
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
