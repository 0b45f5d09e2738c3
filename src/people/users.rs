//! Users: how they are stored, created and shown.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::{Role, password};
use crate::db::schema::{coordinator_sites, users};
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, FieldError};

/// A user row as stored.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: Id,
    pub employee_number: String,
    pub email: String,
    pub display_name: String,
    pub site_id: Option<Id>,
    pub role: String,
    pub active: bool,
    pub locale: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub anonymised_at: Option<Timestamp>,
}

/// A user as the API shows them. Never carries the password hash.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: uuid::Uuid,
    /// HR's key for the employee; unique.
    pub employee_number: String,
    pub email: String,
    pub display_name: String,
    /// Home site.
    pub site_id: Option<uuid::Uuid>,
    pub role: Role,
    pub active: bool,
    /// `en` or `ja`: the language of the emails the user receives.
    pub locale: String,
    /// Sites this user coordinates (coordinators only).
    pub coordinated_site_ids: Vec<uuid::Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When HR anonymised the person (a leaver): name, email and employee number replaced.
    pub anonymised_at: Option<DateTime<Utc>>,
}

impl User {
    fn from_row(row: UserRow, sites: Vec<Id>) -> AppResult<User> {
        let role = row.role.parse::<Role>().map_err(AppError::internal)?;
        Ok(User {
            id: row.id.into(),
            employee_number: row.employee_number,
            email: row.email,
            display_name: row.display_name,
            site_id: row.site_id.map(Into::into),
            role,
            active: row.active,
            locale: row.locale,
            coordinated_site_ids: sites.into_iter().map(Into::into).collect(),
            created_at: row.created_at.into(),
            updated_at: row.updated_at.into(),
            anonymised_at: row.anonymised_at.map(Into::into),
        })
    }
}

/// Reads one user with their coordinated sites.
pub fn find(conn: &mut AnyConnection, id: Id) -> AppResult<Option<User>> {
    let row: Option<UserRow> = users::table
        .filter(users::id.eq(id))
        .select(UserRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else { return Ok(None) };
    let sites = coordinator_sites::table
        .filter(coordinator_sites::user_id.eq(id))
        .select(coordinator_sites::site_id)
        .order(coordinator_sites::site_id)
        .load(conn)?;
    User::from_row(row, sites).map(Some)
}

/// What it takes to create a user.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub employee_number: String,
    pub email: String,
    pub display_name: String,
    pub site_id: Option<Id>,
    pub role: Role,
    pub locale: String,
    /// Plain text; hashed here and never stored or logged as given.
    pub password: Option<String>,
}

pub use crate::input::normalize_email;

/// Field checks shared by the API, the CLI and imports.
pub fn validate(new: &NewUser) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let email = normalize_email(&new.email);
    let well_formed = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && !domain.is_empty() && !domain.contains('@')
    });
    if !well_formed || email.len() > 254 || email.chars().any(char::is_whitespace) {
        errors.push(FieldError::new(
            "email",
            "invalid_format",
            "an email address like name@example.com",
        ));
    }
    let number = new.employee_number.trim();
    if number.is_empty() || number.len() > 64 {
        errors.push(FieldError::new(
            "employee_number",
            "invalid_length",
            "1 to 64 characters",
        ));
    }
    let name = new.display_name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new(
            "display_name",
            "invalid_length",
            "1 to 200 characters",
        ));
    }
    errors.extend(crate::input::single_line("employee_number", number));
    errors.extend(crate::input::single_line("display_name", name));
    if !matches!(new.locale.as_str(), "en" | "ja") {
        errors.push(FieldError::new("locale", "invalid_value", "en or ja"));
    }
    if let Some(p) = &new.password
        && p.chars().count() < password::MIN_PASSWORD_LEN
    {
        errors.push(FieldError::new(
            "password",
            "too_short",
            format!("at least {} characters", password::MIN_PASSWORD_LEN),
        ));
    }
    errors
}

/// Validates a new user and hashes their password: the slow part, done before any transaction
/// so the write lock is held only for the insert.
pub fn prepare(new: &NewUser) -> AppResult<Option<String>> {
    let errors = validate(new);
    if !errors.is_empty() {
        return Err(AppError::validation(errors));
    }
    match &new.password {
        Some(p) => Ok(Some(password::hash(p).map_err(AppError::internal)?)),
        None => Ok(None),
    }
}

/// Inserts a prepared user inside the caller's transaction.
pub fn insert(
    conn: &mut AnyConnection,
    new: &NewUser,
    password_hash: Option<String>,
) -> AppResult<Id> {
    let id = Id::new();
    let now = Timestamp::now();
    diesel::insert_into(users::table)
        .values((
            users::id.eq(id),
            users::employee_number.eq(new.employee_number.trim()),
            users::email.eq(normalize_email(&new.email)),
            users::display_name.eq(new.display_name.trim()),
            users::site_id.eq(new.site_id),
            users::role.eq(new.role.as_str()),
            users::active.eq(true),
            users::locale.eq(&new.locale),
            users::password_hash.eq(&password_hash),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .map_err(unique_to_conflict)?;
    Ok(id)
}

/// A duplicate email or employee number is the client's conflict, not a server error.
pub fn unique_to_conflict(e: diesel::result::Error) -> AppError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => AppError::conflict(
            "user_exists",
            "a user with this email or employee number already exists",
        ),
        other => other.into(),
    }
}

/// Creates a user (CLI, bootstrap, tests).
pub fn create(conn: &mut AnyConnection, new: &NewUser) -> AppResult<Id> {
    let hash = prepare(new)?;
    write_transaction(conn, |conn| insert(conn, new, hash))
}

/// Replaces a user's password (and ends their sign-ins elsewhere).
pub fn set_password(conn: &mut AnyConnection, id: Id, new_password: &str) -> AppResult<()> {
    if new_password.chars().count() < password::MIN_PASSWORD_LEN {
        return Err(AppError::validation(vec![FieldError::new(
            "password",
            "too_short",
            format!("at least {} characters", password::MIN_PASSWORD_LEN),
        )]));
    }
    let hash = password::hash(new_password).map_err(AppError::internal)?;
    write_transaction(conn, |conn| {
        let n = diesel::update(users::table.filter(users::id.eq(id)))
            .set((
                users::password_hash.eq(Some(hash)),
                users::updated_at.eq(Timestamp::now()),
            ))
            .execute(conn)?;
        if n == 0 {
            return Err(AppError::not_found("no such user"));
        }
        crate::auth::end_all_sign_ins(conn, id)?;
        Ok(())
    })
}

/// Finds a user id by email.
pub fn id_by_email(conn: &mut AnyConnection, email: &str) -> QueryResult<Option<Id>> {
    users::table
        .filter(users::email.eq(normalize_email(email)))
        .select(users::id)
        .first(conn)
        .optional()
}

/// On an empty database, creates the first administrator with a random password and returns
/// (email, password) so the caller can show it once. Does nothing when any user exists.
pub fn bootstrap_admin(
    conn: &mut AnyConnection,
    email: &str,
) -> AppResult<Option<(String, String)>> {
    let any: i64 = users::table.count().get_result(conn)?;
    if any > 0 {
        return Ok(None);
    }
    let password = password::generate();
    create(
        conn,
        &NewUser {
            employee_number: "admin".into(),
            email: email.into(),
            display_name: "Administrator".into(),
            site_id: None,
            role: Role::Admin,
            locale: "en".into(),
            password: Some(password.clone()),
        },
    )?;
    Ok(Some((normalize_email(email), password)))
}

/// Which users a caller may see.
#[derive(Debug, Clone)]
pub enum Visibility {
    /// Admins and HR.
    All,
    /// A coordinator: users whose home site is one of these, and themselves.
    Sites { sites: Vec<Id>, me: Id },
    /// An employee: themselves only.
    OnlySelf(Id),
}

impl Visibility {
    pub fn of(caller: &crate::auth::Caller) -> Visibility {
        match caller.role {
            Role::Admin | Role::Hr => Visibility::All,
            Role::Coordinator => Visibility::Sites {
                sites: caller.sites.clone(),
                me: caller.id,
            },
            Role::Employee => Visibility::OnlySelf(caller.id),
        }
    }

    pub fn allows(&self, user: &User) -> bool {
        let id = Id::from(user.id);
        match self {
            Visibility::All => true,
            Visibility::Sites { sites, me } => {
                id == *me || user.site_id.is_some_and(|s| sites.contains(&Id::from(s)))
            }
            Visibility::OnlySelf(me) => id == *me,
        }
    }
}

/// Filters of the user list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub site_id: Option<Id>,
    /// HR's key: the user with this employee number (a page of at most one).
    pub employee_number: Option<String>,
    pub role: Option<Role>,
    pub active: Option<bool>,
    /// Case-insensitive substring of email, display name or employee number.
    pub text: Option<String>,
    /// Keyset: users after this id (ids are time-ordered UUID v7).
    pub after: Option<Id>,
    pub limit: i64,
}

/// One page (plus one row) of users the caller may see, in id order.
pub fn list(
    conn: &mut AnyConnection,
    visibility: &Visibility,
    filter: &ListFilter,
) -> AppResult<Vec<User>> {
    let mut query = users::table.select(UserRow::as_select()).into_boxed();
    match visibility {
        Visibility::All => {}
        Visibility::Sites { sites, me } => {
            query = query.filter(users::site_id.eq_any(sites.clone()).or(users::id.eq(*me)));
        }
        Visibility::OnlySelf(me) => query = query.filter(users::id.eq(*me)),
    }
    if let Some(site) = filter.site_id {
        query = query.filter(users::site_id.eq(site));
    }
    if let Some(number) = &filter.employee_number {
        query = query.filter(users::employee_number.eq(number.trim().to_owned()));
    }
    if let Some(role) = filter.role {
        query = query.filter(users::role.eq(role.as_str()));
    }
    if let Some(active) = filter.active {
        query = query.filter(users::active.eq(active));
    }
    if let Some(text) = filter
        .text
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let pattern = crate::db::contains_pattern(text);
        query = query.filter(
            crate::db::lower(users::email)
                .like(pattern.clone())
                .escape('\\')
                .or(crate::db::lower(users::display_name)
                    .like(pattern.clone())
                    .escape('\\'))
                .or(crate::db::lower(users::employee_number)
                    .like(pattern)
                    .escape('\\')),
        );
    }
    if let Some(after) = filter.after {
        query = query.filter(users::id.gt(after));
    }
    let rows: Vec<UserRow> = query
        .order(users::id.asc())
        .limit(filter.limit + 1)
        .load(conn)?;
    let ids: Vec<Id> = rows.iter().map(|r| r.id).collect();
    let mut sites: std::collections::HashMap<Id, Vec<Id>> = std::collections::HashMap::new();
    let pairs: Vec<(Id, Id)> = coordinator_sites::table
        .filter(coordinator_sites::user_id.eq_any(ids))
        .select((coordinator_sites::user_id, coordinator_sites::site_id))
        .order((coordinator_sites::user_id, coordinator_sites::site_id))
        .load(conn)?;
    for (user, site) in pairs {
        sites.entry(user).or_default().push(site);
    }
    rows.into_iter()
        .map(|row| {
            let s = sites.remove(&row.id).unwrap_or_default();
            User::from_row(row, s)
        })
        .collect()
}

/// The caller's own account.
pub fn me(conn: &mut AnyConnection, caller: &crate::auth::Caller) -> AppResult<User> {
    find(conn, caller.id)?.ok_or_else(|| AppError::not_found("no such user"))
}

/// One user, if the caller may see them: 404 otherwise (existence is private).
pub fn get_visible(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    id: Id,
) -> AppResult<User> {
    find(conn, id)?
        .filter(|u| Visibility::of(caller).allows(u))
        .ok_or_else(|| AppError::not_found("no such user"))
}

/// The users the caller may see (everyone for admins and HR, their sites' users for
/// coordinators, themselves for employees), filtered.
pub fn list_visible(
    conn: &mut AnyConnection,
    caller: &crate::auth::Caller,
    filter: &ListFilter,
) -> AppResult<Vec<User>> {
    list(conn, &Visibility::of(caller), filter)
}
