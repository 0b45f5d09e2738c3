//! Creating and changing users through the API, with the rules of who may change what.
//!
//! Mass assignment is refused loudly: a field the caller may not change is a 403 naming it, not
//! silently dropped, so a client never believes a change happened that did not.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use crate::audit;
use crate::auth::{Caller, Role};
use crate::db::schema::{coordinator_sites, sites, users as users_t};
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, FieldError};
use crate::people::users::{self, NewUser, User, Visibility};

/// A new user. No `Debug`: it may carry a password.
#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    pub employee_number: String,
    pub email: String,
    pub display_name: String,
    /// Home site.
    pub site_id: Option<uuid::Uuid>,
    /// Defaults to `employee`.
    pub role: Option<Role>,
    /// `en` (default) or `ja`.
    pub locale: Option<String>,
    /// Optional: without one the user signs in through the identity provider only.
    #[schema(format = Password)]
    pub password: Option<String>,
    /// Sites the user coordinates (role `coordinator` only).
    #[serde(default)]
    pub coordinated_site_ids: Vec<uuid::Uuid>,
}

/// Fields to change; absent fields stay as they are.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub email: Option<String>,
    pub display_name: Option<String>,
    pub employee_number: Option<String>,
    /// Home site; `null` clears it.
    #[serde(default, deserialize_with = "crate::input::double_option")]
    #[schema(value_type = Option<uuid::Uuid>, nullable)]
    pub site_id: Option<Option<uuid::Uuid>>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    pub locale: Option<String>,
    pub coordinated_site_ids: Option<Vec<uuid::Uuid>>,
}

impl UserPatch {
    /// The fields present in the request.
    fn fields(&self) -> Vec<&'static str> {
        let mut f = Vec::new();
        let present = [
            ("email", self.email.is_some()),
            ("display_name", self.display_name.is_some()),
            ("employee_number", self.employee_number.is_some()),
            ("site_id", self.site_id.is_some()),
            ("role", self.role.is_some()),
            ("active", self.active.is_some()),
            ("locale", self.locale.is_some()),
            ("coordinated_site_ids", self.coordinated_site_ids.is_some()),
        ];
        for (name, is) in present {
            if is {
                f.push(name);
            }
        }
        f
    }
}

/// How many active administrators there are, counted so that two transactions removing two
/// different admins cannot both see the other one still there. On PostgreSQL the active
/// admins' rows are locked first (in id order, so two such transactions queue instead of
/// deadlocking; the second then counts what the first committed). On SQLite the write
/// transaction (`BEGIN IMMEDIATE`) already lets one writer in at a time.
fn active_admins_locked(conn: &mut AnyConnection) -> AppResult<i64> {
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    Ok(match conn {
        AnyConnection::Postgresql(_) => {
            diesel::sql_query(
                "SELECT count(*) AS n FROM (SELECT id FROM users \
                 WHERE role = 'admin' AND active ORDER BY id FOR UPDATE) AS locked",
            )
            .get_result::<Count>(conn)?
            .n
        }
        AnyConnection::Sqlite(_) => users_t::table
            .filter(users_t::role.eq("admin"))
            .filter(users_t::active.eq(true))
            .count()
            .get_result(conn)?,
    })
}

/// Fields anyone may change on their own account.
const SELF_SERVICE: [&str; 2] = ["display_name", "locale"];

/// HR manages people but not the keys to the kingdom: it may not create or promote admins or
/// other HR staff, nor change an admin's account.
fn check_grant(caller: &Caller, role: Role) -> AppResult<()> {
    match (caller.role, role) {
        (Role::Admin, _) => Ok(()),
        (Role::Hr, Role::Employee | Role::Coordinator) => Ok(()),
        (Role::Hr, _) => Err(AppError::forbidden(format!(
            "HR may not grant the {role} role"
        ))),
        _ => Err(AppError::forbidden("only admins and HR manage accounts")),
    }
}

/// HR may change employees' and coordinators' accounts (and its own), never an admin's or
/// another HR account; admins change any.
fn check_account(caller: &Caller, role: Role, is_self: bool) -> AppResult<()> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Hr if role == Role::Admin || (role == Role::Hr && !is_self) => Err(
            AppError::forbidden(format!("HR may not change a {role} account")),
        ),
        Role::Hr => Ok(()),
        _ => Err(AppError::forbidden("only admins and HR manage accounts")),
    }
}

/// The roles `caller` may give an account (the pages offer exactly these).
pub fn grantable_roles(caller: &Caller) -> Vec<Role> {
    Role::ALL
        .into_iter()
        .filter(|r| check_grant(caller, *r).is_ok())
        .collect()
}

/// Whether `caller` may change `user`'s account at all (a page shows it read-only otherwise);
/// the same rules [`update`] and [`invite`] apply.
pub fn may_manage(caller: &Caller, user: &User) -> bool {
    super::require_manager(caller).is_ok()
        && check_account(caller, user.role, caller.id == Id::from(user.id)).is_ok()
}

/// An invitation as the API answers it (the link itself is only in the mail).
#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    pub user_id: uuid::Uuid,
    /// Where the mail goes.
    pub email: String,
    /// The link works once, until then.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

/// Sends `target` an invitation to set a password (a new link; earlier ones stop working).
/// Inviting sets a password on someone's account, so it takes the right to change that account.
pub fn invite(
    conn: &mut AnyConnection,
    caller: &Caller,
    target: Id,
    ttl: chrono::Duration,
    request_id: Option<String>,
) -> AppResult<Invitation> {
    let user = users::find(conn, target)?.ok_or_else(|| AppError::not_found("no such user"))?;
    if !Visibility::of(caller).allows(&user) {
        return Err(AppError::not_found("no such user"));
    }
    super::require_manager(caller)?;
    check_account(caller, user.role, caller.id == target)?;
    if !user.active {
        return Err(AppError::conflict(
            "user_inactive",
            "the account is deactivated; activate it before inviting",
        ));
    }
    let expires = write_transaction(conn, |conn| -> AppResult<Timestamp> {
        let (link, expires) = crate::auth::links::issue(
            conn,
            target,
            crate::auth::links::Purpose::Invitation,
            ttl,
            Some(caller.id),
        )?;
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "user.invited",
                entity_type: "user",
                entity_id: Some(target.to_string()),
                details: json!({ "link_id": link, "expires_at": expires.get() }),
                request_id,
            },
        )?;
        Ok(expires)
    })?;
    Ok(Invitation {
        user_id: target.into(),
        email: user.email,
        expires_at: expires.get(),
    })
}

fn check_sites_exist(conn: &mut AnyConnection, field: &str, ids: &[Id]) -> AppResult<()> {
    if ids.is_empty() {
        return Ok(());
    }
    let found: i64 = sites::table
        .filter(sites::id.eq_any(ids.to_vec()))
        .count()
        .get_result(conn)?;
    let mut unique = ids.to_vec();
    unique.sort();
    unique.dedup();
    if found as usize != unique.len() {
        return Err(AppError::validation(vec![FieldError::new(
            field,
            "unknown_site",
            "no such site",
        )]));
    }
    Ok(())
}

fn replace_coordinated_sites(
    conn: &mut AnyConnection,
    user: Id,
    site_ids: &[Id],
) -> QueryResult<()> {
    diesel::delete(coordinator_sites::table.filter(coordinator_sites::user_id.eq(user)))
        .execute(conn)?;
    let now = Timestamp::now();
    let mut unique = site_ids.to_vec();
    unique.sort();
    unique.dedup();
    for site in unique {
        diesel::insert_into(coordinator_sites::table)
            .values((
                coordinator_sites::user_id.eq(user),
                coordinator_sites::site_id.eq(site),
                coordinator_sites::created_at.eq(now),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Creates a user on behalf of an admin or HR, recording it in the audit log.
pub fn create(
    conn: &mut AnyConnection,
    caller: &Caller,
    req: CreateUser,
    request_id: Option<String>,
) -> AppResult<User> {
    let hash = hash_password(&req)?;
    create_hashed(conn, caller, req, hash, request_id)
}

/// The new user's password, checked and hashed: the slow part (argon2, tens of milliseconds),
/// for the caller to run before it takes a pooled connection or opens a transaction (the
/// API's creation runs inside the Idempotency-Key transaction, which on SQLite holds the
/// database's write lock).
///
/// Every field is checked first (without the database), so a request with a bad email and a
/// short password hears about both, and a bad request costs no hashing.
pub fn hash_password(req: &CreateUser) -> AppResult<Option<String>> {
    users::prepare(&new_user(req, req.password.clone()))
}

/// The user a creation request describes.
fn new_user(req: &CreateUser, password: Option<String>) -> NewUser {
    NewUser {
        employee_number: req.employee_number.clone(),
        email: req.email.clone(),
        display_name: req.display_name.clone(),
        site_id: req.site_id.map(Id::from),
        role: req.role.unwrap_or(Role::Employee),
        locale: req.locale.clone().unwrap_or_else(|| "en".into()),
        password,
    }
}

/// [`create`] with the password already hashed by [`hash_password`].
pub fn create_hashed(
    conn: &mut AnyConnection,
    caller: &Caller,
    req: CreateUser,
    password_hash: Option<String>,
    request_id: Option<String>,
) -> AppResult<User> {
    super::require_manager(caller)?;
    let role = req.role.unwrap_or(Role::Employee);
    check_grant(caller, role)?;
    let coordinated: Vec<Id> = req
        .coordinated_site_ids
        .iter()
        .copied()
        .map(Id::from)
        .collect();
    if !coordinated.is_empty() && role != Role::Coordinator {
        return Err(AppError::validation(vec![FieldError::new(
            "coordinated_site_ids",
            "not_a_coordinator",
            "only coordinators coordinate sites",
        )]));
    }
    let site_id = req.site_id.map(Id::from);
    check_sites_exist(conn, "site_id", &site_id.into_iter().collect::<Vec<_>>())?;
    check_sites_exist(conn, "coordinated_site_ids", &coordinated)?;
    // The password was checked and hashed already.
    let new = new_user(&req, None);
    let errors = users::validate(&new);
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    let id = write_transaction(conn, |conn| -> AppResult<Id> {
        let id = users::insert(conn, &new, password_hash)?;
        replace_coordinated_sites(conn, id, &coordinated)?;
        audit::record(
            conn,
            audit::Entry {
                actor: Some(caller.id),
                action: "user.created",
                entity_type: "user",
                entity_id: Some(id.to_string()),
                details: json!({"role": role, "site_id": site_id, "coordinated_site_ids": coordinated}),
                request_id,
            },
        )?;
        Ok(id)
    })?;
    users::find(conn, id)?.ok_or_else(|| AppError::not_found("no such user"))
}

/// Applies a patch after checking who may change which field.
pub fn update(
    conn: &mut AnyConnection,
    caller: &Caller,
    target: Id,
    patch: UserPatch,
    request_id: Option<String>,
) -> AppResult<User> {
    let before = users::find(conn, target)?.ok_or_else(|| AppError::not_found("no such user"))?;
    if !Visibility::of(caller).allows(&before) {
        return Err(AppError::not_found("no such user"));
    }
    let fields = patch.fields();
    let is_self = caller.id == target;
    match caller.role {
        Role::Admin => {}
        Role::Hr => {
            check_account(caller, before.role, is_self)?;
            if let Some(role) = patch.role {
                check_grant(caller, role)?;
            }
            if is_self && patch.role.is_some() {
                return Err(AppError::forbidden("you may not change your own role"));
            }
        }
        Role::Coordinator | Role::Employee => {
            if !is_self {
                return Err(AppError::forbidden(
                    "only admins and HR change other accounts",
                ));
            }
            let refused: Vec<&str> = fields
                .iter()
                .copied()
                .filter(|f| !SELF_SERVICE.contains(f))
                .collect();
            if !refused.is_empty() {
                return Err(AppError::forbidden(format!(
                    "you may not change your own {}",
                    refused.join(", ")
                )));
            }
        }
    }

    let new_role = patch.role.unwrap_or(before.role);
    let new_site = match patch.site_id {
        Some(s) => s.map(Id::from),
        None => before.site_id.map(Id::from),
    };
    let new_active = patch.active.unwrap_or(before.active);
    let before_sites: Vec<Id> = before
        .coordinated_site_ids
        .iter()
        .copied()
        .map(Id::from)
        .collect();
    let mut new_sites: Vec<Id> = match &patch.coordinated_site_ids {
        Some(ids) => ids.iter().copied().map(Id::from).collect(),
        None if new_role == Role::Coordinator => before_sites.clone(),
        None => Vec::new(),
    };
    new_sites.sort();
    new_sites.dedup();
    if new_role != Role::Coordinator
        && patch
            .coordinated_site_ids
            .as_ref()
            .is_some_and(|s| !s.is_empty())
    {
        return Err(AppError::validation(vec![FieldError::new(
            "coordinated_site_ids",
            "not_a_coordinator",
            "only coordinators coordinate sites",
        )]));
    }
    if let Some(Some(site)) = patch.site_id {
        check_sites_exist(conn, "site_id", &[Id::from(site)])?;
    }
    check_sites_exist(conn, "coordinated_site_ids", &new_sites)?;
    let check = NewUser {
        employee_number: patch
            .employee_number
            .clone()
            .unwrap_or_else(|| before.employee_number.clone()),
        email: patch.email.clone().unwrap_or_else(|| before.email.clone()),
        display_name: patch
            .display_name
            .clone()
            .unwrap_or_else(|| before.display_name.clone()),
        site_id: new_site,
        role: new_role,
        locale: patch
            .locale
            .clone()
            .unwrap_or_else(|| before.locale.clone()),
        password: None,
    };
    let errors = users::validate(&check);
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }

    write_transaction(conn, |conn| -> AppResult<()> {
        // Never leave the installation without an active administrator.
        if before.role == Role::Admin
            && before.active
            && (new_role != Role::Admin || !new_active)
            && active_admins_locked(conn)? <= 1
        {
            return Err(AppError::conflict(
                "last_admin",
                "this is the last active administrator",
            ));
        }
        diesel::update(users_t::table.filter(users_t::id.eq(target)))
            .set((
                users_t::email.eq(users::normalize_email(&check.email)),
                users_t::display_name.eq(check.display_name.trim()),
                users_t::employee_number.eq(check.employee_number.trim()),
                users_t::site_id.eq(new_site),
                users_t::role.eq(new_role.as_str()),
                users_t::active.eq(new_active),
                users_t::locale.eq(&check.locale),
                users_t::updated_at.eq(Timestamp::now()),
            ))
            .execute(conn)
            .map_err(users::unique_to_conflict)?;
        if new_sites != before_sites {
            replace_coordinated_sites(conn, target, &new_sites)?;
        }
        if !new_active && before.active {
            crate::auth::end_all_sign_ins(conn, target)?;
        }
        let access_changed = new_role != before.role
            || new_site != before.site_id.map(Id::from)
            || new_active != before.active
            || new_sites != before_sites;
        if access_changed {
            audit::record(
                conn,
                audit::Entry {
                    actor: Some(caller.id),
                    action: "user.access_changed",
                    entity_type: "user",
                    entity_id: Some(target.to_string()),
                    details: json!({
                        "before": {"role": before.role, "site_id": before.site_id, "active": before.active,
                                   "coordinated_site_ids": before_sites},
                        "after": {"role": new_role, "site_id": new_site, "active": new_active,
                                  "coordinated_site_ids": new_sites},
                    }),
                    request_id,
                },
            )?;
        }
        Ok(())
    })?;
    users::find(conn, target)?.ok_or_else(|| AppError::not_found("no such user"))
}
