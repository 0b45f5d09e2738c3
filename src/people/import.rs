//! Users import: `employee_number,email,display_name,site_code,role,active`, upsert by employee
//! number. The file is validated whole first (one bad row rejects it with every bad row named);
//! then each row goes through the same create/update rules as the API (who may grant which
//! role, audit), all in one transaction — the dry run too, rolled back at the end.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Caller, Role};
use crate::db::schema::{sites, users};
use crate::db::{AnyConnection, Id, write_transaction};
use crate::error::{AppError, AppResult, FieldError};
use crate::org::import::{read_csv, rejected};
use crate::people::changes::{self, CreateUser, UserPatch};
use crate::people::users::normalize_email;

pub const HEADER: [&str; 6] = [
    "employee_number",
    "email",
    "display_name",
    "site_code",
    "role",
    "active",
];

#[derive(Debug, Serialize, ToSchema, PartialEq, Eq)]
pub struct UsersReport {
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    /// New active accounts mailed an invitation (with `invite`).
    pub invited: usize,
    pub dry_run: bool,
}

struct Row {
    line: u64,
    number: String,
    email: String,
    name: String,
    site: Option<Id>,
    role: Role,
    active: bool,
}

/// With `invite` (the links' lifetime), every new active account is mailed an invitation in
/// the import's transaction; existing accounts are left alone (re-invite them one by one).
pub fn import(
    conn: &mut AnyConnection,
    caller: &Caller,
    bytes: &[u8],
    dry_run: bool,
    invite: Option<chrono::Duration>,
    request_id: Option<String>,
    mut progress: impl FnMut(u64, u64),
) -> AppResult<UsersReport> {
    super::require_manager(caller)?;
    let (records, mut errors) = read_csv(bytes, &HEADER).map_err(rejected)?;
    let site_codes: HashMap<String, Id> = sites::table
        .select((sites::code, sites::id))
        .load(conn)?
        .into_iter()
        .collect();
    let existing: HashMap<String, (Id, String)> = users::table
        .select((users::employee_number, users::id, users::email))
        .load::<(String, Id, String)>(conn)?
        .into_iter()
        .map(|(n, id, e)| (n, (id, e)))
        .collect();
    let email_owner: HashMap<String, String> = existing
        .iter()
        .map(|(n, (_, e))| (e.clone(), n.clone()))
        .collect();
    let mut rows = Vec::with_capacity(records.len());
    let (mut numbers, mut emails) = (HashSet::new(), HashSet::new());
    for (line, r) in &records {
        let line = *line;
        let get = |i: usize| r.get(i).unwrap_or_default().trim();
        let mut e = Vec::new();
        let number = get(0).to_owned();
        if number.is_empty() {
            e.push(FieldError::new(
                "employee_number",
                "required",
                "an employee number",
            ));
        } else if !numbers.insert(number.clone()) {
            e.push(FieldError::new(
                "employee_number",
                "duplicate",
                "the number appears twice in the file",
            ));
        }
        let email = normalize_email(get(1));
        if !email.contains('@') {
            e.push(FieldError::new(
                "email",
                "invalid_format",
                "an email address",
            ));
        } else if !emails.insert(email.clone()) {
            e.push(FieldError::new(
                "email",
                "duplicate",
                "the email appears twice in the file",
            ));
        } else if email_owner
            .get(&email)
            .is_some_and(|owner| *owner != number)
        {
            e.push(FieldError::new(
                "email",
                "taken",
                "another employee has this email",
            ));
        }
        let name = get(2).to_owned();
        if !(1..=200).contains(&name.chars().count()) {
            e.push(FieldError::new(
                "display_name",
                "invalid_length",
                "1 to 200 characters",
            ));
        }
        let site = match get(3) {
            "" => None,
            code => {
                let s = site_codes.get(code).copied();
                if s.is_none() {
                    e.push(FieldError::new(
                        "site_code",
                        "unknown_site",
                        "no site with this code",
                    ));
                }
                s
            }
        };
        let role = match get(4) {
            "" => Some(Role::Employee),
            text => text.parse::<Role>().ok(),
        };
        if role.is_none() {
            e.push(FieldError::new(
                "role",
                "invalid_value",
                "employee, coordinator, hr or admin",
            ));
        }
        if role == Some(Role::Admin) && caller.role != Role::Admin {
            e.push(FieldError::new(
                "role",
                "forbidden",
                "only admins grant the admin role",
            ));
        }
        let active = match get(5).to_ascii_lowercase().as_str() {
            "" | "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => {
                e.push(FieldError::new("active", "invalid_value", "true or false"));
                None
            }
        };
        if let (Some(role), Some(active)) = (role, active) {
            rows.push(Row {
                line,
                number,
                email,
                name,
                site,
                role,
                active,
            });
        }
        errors.extend(e.into_iter().map(|err| err.at_line(line)));
    }
    if !errors.is_empty() {
        return Err(rejected(errors));
    }
    let updated = rows
        .iter()
        .filter(|r| existing.contains_key(&r.number))
        .count();
    let invited = match invite {
        Some(_) => rows
            .iter()
            .filter(|r| r.active && !existing.contains_key(&r.number))
            .count(),
        None => 0,
    };
    let report = UsersReport {
        rows: rows.len(),
        created: rows.len() - updated,
        updated,
        invited,
        dry_run,
    };
    // The dry run goes through the very same calls as the import, in a transaction that is
    // then rolled back: whatever the real import would refuse (who may change an admin or grant
    // hr, the last-admin rule, ...) it refuses too, and nothing stays written, invitations
    // included. Each row runs under a savepoint, so that every refused row is reported, not
    // only the first.
    let total = rows.len() as u64;
    let done = write_transaction(conn, |conn| {
        let mut refused = Vec::new();
        for (i, r) in rows.into_iter().enumerate() {
            let line = r.line;
            let applied = conn
                .transaction(|conn| apply(conn, caller, &existing, r, invite, request_id.clone()));
            match applied {
                Ok(()) => {}
                // A field the API's rules refuse is named with its column and reason; any other
                // refusal (a permission, the last-admin rule) is the row's, in the rule's words.
                Err(e) if e.status().is_client_error() && !e.field_errors().is_empty() => {
                    refused.extend(e.field_errors().iter().map(|f| f.clone().at_line(line)));
                }
                Err(e) if e.status().is_client_error() => {
                    refused.push(FieldError::new("row", "refused", e.detail()).at_line(line));
                }
                Err(e) => return Err(Stop::Failed(e)),
            }
            progress(i as u64 + 1, total);
        }
        if !refused.is_empty() {
            return Err(Stop::Failed(rejected(refused)));
        }
        if dry_run {
            return Err(Stop::DryRun);
        }
        Ok(())
    });
    match done {
        Ok(()) | Err(Stop::DryRun) => Ok(report),
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// Why the import's transaction ends without committing.
enum Stop {
    Failed(AppError),
    /// The dry run went through every row: roll it back.
    DryRun,
}

impl From<diesel::result::Error> for Stop {
    fn from(e: diesel::result::Error) -> Stop {
        Stop::Failed(e.into())
    }
}

/// One row through the API's own create and update calls.
fn apply(
    conn: &mut AnyConnection,
    caller: &Caller,
    existing: &HashMap<String, (Id, String)>,
    r: Row,
    invite: Option<chrono::Duration>,
    request_id: Option<String>,
) -> AppResult<()> {
    match existing.get(&r.number) {
        Some((id, _)) => {
            let patch = UserPatch {
                email: Some(r.email),
                display_name: Some(r.name),
                site_id: Some(r.site.map(Into::into)),
                role: Some(r.role),
                active: Some(r.active),
                ..UserPatch::default()
            };
            changes::update(conn, caller, *id, patch, request_id)?;
        }
        None => {
            let req = CreateUser {
                employee_number: r.number,
                email: r.email,
                display_name: r.name,
                site_id: r.site.map(Into::into),
                role: Some(r.role),
                locale: None,
                password: None,
                coordinated_site_ids: Vec::new(),
            };
            let user = changes::create(conn, caller, req, request_id.clone())?;
            if !r.active {
                let patch = UserPatch {
                    active: Some(false),
                    ..UserPatch::default()
                };
                changes::update(conn, caller, Id::from(user.id), patch, request_id)?;
            } else if let Some(ttl) = invite {
                changes::invite(conn, caller, Id::from(user.id), ttl, request_id)?;
            }
        }
    }
    Ok(())
}
