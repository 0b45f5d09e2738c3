//! Anonymising a person: a leaver, or someone asking under APPI/GDPR to be forgotten.
//!
//! Their name, email and employee number are replaced by values that say nothing about them,
//! their password, calendar address, sessions, refresh tokens and mailed links end, their
//! stored idempotent replies (which can quote them) go, and mail still waiting for them is
//! cancelled and emptied. Their sign-ups and attendance stay: the programme's statistics count
//! records, not names, so every figure is the same before and after, and exports list the
//! records under the anonymised person. The audit log keeps its entries (it is the record of
//! who did what; its details age out with the retention the operators set). One HR or admin
//! act, audited; an admin's account only by an admin; never one's own.

use diesel::prelude::*;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::audit;
use crate::auth::{Caller, Role};
use crate::db::schema::{
    coordinator_sites, idempotency_keys, outbox, password_links, refresh_tokens, users,
    web_sessions,
};
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, FieldError};
use crate::people::users::{User, find};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnonymiseInput {
    /// The person's current employee number, typed again: anonymising cannot be undone.
    pub confirm: String,
}

/// Anonymises `id` (HR and admins; see the module doc) and returns the person as they are now.
pub fn anonymise(
    conn: &mut AnyConnection,
    caller: &Caller,
    id: Id,
    input: &AnonymiseInput,
    request_id: Option<String>,
) -> AppResult<User> {
    caller.require(&[Role::Hr, Role::Admin])?;
    if id == caller.id {
        return Err(AppError::conflict(
            "own_account",
            "nobody anonymises their own account",
        ));
    }
    write_transaction(conn, |conn| {
        let row: Option<(String, String, Option<Timestamp>)> = users::table
            .find(id)
            .select((users::employee_number, users::role, users::anonymised_at))
            .first(conn)
            .optional()?;
        let Some((number, role, anonymised)) = row else {
            return Err(AppError::not_found("no such user"));
        };
        if role == Role::Admin.as_str() && caller.role != Role::Admin {
            return Err(AppError::forbidden(
                "only an administrator anonymises an administrator",
            ));
        }
        if anonymised.is_some() {
            return Err(AppError::conflict(
                "already_anonymised",
                "this person is anonymised already",
            ));
        }
        if input.confirm.trim() != number {
            return Err(AppError::validation(vec![FieldError::new(
                "confirm",
                "mismatch",
                "type the person's employee number to confirm",
            )]));
        }
        // Stand-ins that are unique and say nothing about the person.
        let tag = Id::new().to_string().replace('-', "");
        let short = &tag[tag.len() - 10..];
        let now = Timestamp::now();
        diesel::update(users::table.find(id))
            .set((
                users::employee_number.eq(format!("ANON-{short}")),
                users::email.eq(format!("anonymised-{tag}@anonymised.invalid")),
                users::display_name.eq(format!("Anonymised {short}")),
                users::role.eq(Role::Employee.as_str()),
                users::active.eq(false),
                users::password_hash.eq(None::<String>),
                users::calendar_token_hash.eq(None::<String>),
                users::anonymised_at.eq(Some(now)),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        diesel::delete(coordinator_sites::table.filter(coordinator_sites::user_id.eq(id)))
            .execute(conn)?;
        diesel::update(
            web_sessions::table
                .filter(web_sessions::user_id.eq(id))
                .filter(web_sessions::ended_at.is_null()),
        )
        .set(web_sessions::ended_at.eq(Some(now)))
        .execute(conn)?;
        diesel::update(
            refresh_tokens::table
                .filter(refresh_tokens::user_id.eq(id))
                .filter(refresh_tokens::revoked_at.is_null()),
        )
        .set(refresh_tokens::revoked_at.eq(Some(now)))
        .execute(conn)?;
        diesel::update(
            password_links::table
                .filter(password_links::user_id.eq(id))
                .filter(password_links::used_at.is_null()),
        )
        .set(password_links::used_at.eq(Some(now)))
        .execute(conn)?;
        diesel::delete(idempotency_keys::table.filter(idempotency_keys::user_id.eq(id)))
            .execute(conn)?;
        // Mail for them: what waits is cancelled, and no copy of an address or a body stays.
        diesel::update(
            outbox::table
                .filter(outbox::user_id.eq(Some(id)))
                .filter(outbox::status.eq_any(["pending", "sending"])),
        )
        .set(outbox::status.eq("cancelled"))
        .execute(conn)?;
        diesel::update(outbox::table.filter(outbox::user_id.eq(Some(id))))
            .set((
                outbox::to_address.eq("anonymised@anonymised.invalid"),
                outbox::payload.eq("{}"),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "user.anonymised",
                entity_type: "user",
                entity_id: Some(id.to_string()),
                details: json!({}),
                request_id,
            },
        )?;
        Ok(())
    })?;
    find(conn, id)?.ok_or_else(|| AppError::not_found("no such user"))
}
