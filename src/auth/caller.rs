//! The principal: who is calling, as the database knows them now. Role and site-scope checks
//! are methods on it, so a service reads them as one line. No request types here: a bearer
//! token (the API, [`from_bearer`]) and a session (the web pages) resolve to the same `Caller`;
//! the actix extractor is in `api::extract`.

use actix_web::http::header::{self, HeaderValue};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text};

use crate::auth::idp::{ExternalIdp, Identity};
use crate::auth::roles::Role;
use crate::auth::tokens::TokenKeys;
use crate::config::IdpMatch;
use crate::db::schema::{EventsOfPrograms, coordinator_sites, refresh_tokens, users};
use crate::db::{AnyConnection, Id};
use crate::error::{AppError, AppResult};
use crate::input::normalize_email;

/// The authenticated user making the request, as the database knows them now (a role change or
/// deactivation takes effect on the next request, not when the token expires).
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: Id,
    pub role: Role,
    pub site_id: Option<Id>,
    /// Sites a coordinator coordinates (empty for other roles).
    pub sites: Vec<Id>,
    /// Why this request changes a closed fiscal year's figures, when it says (the API's
    /// `Restatement-Reason` header, a page's form field); see `stats::closing::guard`.
    pub restatement: Option<String>,
}

impl Caller {
    pub fn is(&self, role: Role) -> bool {
        self.role == role
    }

    /// 403 unless the caller has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> AppResult<()> {
        if roles.contains(&self.role) {
            Ok(())
        } else {
            Err(AppError::forbidden(format!(
                "the {} role may not do this",
                self.role
            )))
        }
    }

    /// The caller giving `reason` for a change to a closed fiscal year (a page's form field);
    /// blank gives none.
    pub fn restating(self, reason: &str) -> Caller {
        let reason = reason.trim();
        Caller {
            restatement: (!reason.is_empty()).then(|| reason.to_owned()),
            ..self
        }
    }

    /// Whether the caller runs things at `site`: admins everywhere, coordinators at their sites.
    pub fn coordinates(&self, site: Id) -> bool {
        self.role == Role::Admin || (self.role == Role::Coordinator && self.sites.contains(&site))
    }
}

/// 401 with the `WWW-Authenticate` challenge RFC 6750 asks for.
pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> AppError {
    AppError::new(actix_web::http::StatusCode::UNAUTHORIZED, code, detail)
        .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
}

/// Loads the caller's current role, site and coordinated sites; `None` if the user is gone or
/// deactivated.
pub fn load_caller(conn: &mut AnyConnection, id: Id) -> QueryResult<Option<Caller>> {
    let row: Option<(String, Option<Id>, bool)> = users::table
        .filter(users::id.eq(id))
        .select((users::role, users::site_id, users::active))
        .first(conn)
        .optional()?;
    match row {
        Some((role, site_id, active)) => caller_of(conn, id, &role, site_id, active),
        None => Ok(None),
    }
}

/// The caller from their user row's role, site and active flag (a query that already read the
/// row saves reading it again); coordinators' sites are looked up. `None` when deactivated.
pub fn caller_of(
    conn: &mut AnyConnection,
    id: Id,
    role: &str,
    site_id: Option<Id>,
    active: bool,
) -> QueryResult<Option<Caller>> {
    let Ok(role) = role.parse::<Role>() else {
        return Ok(None);
    };
    if !active {
        return Ok(None);
    }
    let sites = if role == Role::Coordinator {
        coordinator_sites::table
            .filter(coordinator_sites::user_id.eq(id))
            .select(coordinator_sites::site_id)
            .load(conn)?
    } else {
        Vec::new()
    };
    Ok(Some(Caller {
        id,
        role,
        site_id,
        sites,
        restatement: None,
    }))
}

/// Whose token it is: one of ours (user id) or the identity provider's (a claim to match).
/// A token whose signature and expiry have been checked, not yet the account behind it.
#[derive(Debug, Clone)]
pub enum Subject {
    /// The user and the sign-in the token names.
    Own(Id, Id),
    External(Identity),
}

/// The user an identity provider's identity names (by email or employee number).
pub fn find_by_identity(conn: &mut AnyConnection, identity: &Identity) -> QueryResult<Option<Id>> {
    let query = users::table.select(users::id).into_boxed();
    let query = match identity.match_by {
        IdpMatch::Email => query.filter(users::email.eq(normalize_email(&identity.value))),
        IdpMatch::EmployeeNumber => query.filter(users::employee_number.eq(identity.value.clone())),
    };
    query.first(conn).optional()
}

/// Checks a bearer token: one of tomoni's own HS256 tokens, or the identity provider's when one
/// is configured and the token is signed the provider's way. CPU work only; [`resolve`] then
/// finds the account on a connection.
pub fn verify(tokens: &TokenKeys, idp: Option<&ExternalIdp>, token: &str) -> AppResult<Subject> {
    let alg = jsonwebtoken::decode_header(token).map(|h| h.alg).ok();
    Ok(match (idp, alg) {
        (Some(idp), Some(alg)) if idp.handles(alg) => Subject::External(
            idp.verify(token)
                .map_err(|e| unauthorized("invalid_token", e.to_string()))?,
        ),
        _ => {
            let claims = tokens
                .verify(token)
                .map_err(|e| unauthorized("invalid_token", e.to_string()))?;
            let user = claims.sub.parse().map_err(|_| {
                unauthorized("invalid_token", "the token's subject is not a user id")
            })?;
            let sign_in = claims
                .sid
                .parse()
                .map_err(|_| unauthorized("invalid_token", "the token's sign-in is not an id"))?;
            Subject::Own(user, sign_in)
        }
    })
}

/// The caller a verified token stands for, as the database knows them now: 401 when the
/// account is gone or deactivated, or the sign-in has ended.
pub fn resolve(conn: &mut AnyConnection, subject: &Subject) -> AppResult<Caller> {
    let caller = match subject {
        Subject::Own(id, sign_in) => own_caller(conn, *id, *sign_in)?,
        Subject::External(identity) => match find_by_identity(conn, identity)? {
            Some(id) => load_caller(conn, id)?,
            None => None,
        },
    };
    caller.ok_or_else(|| {
        unauthorized(
            "invalid_token",
            "the account does not exist or is deactivated",
        )
    })
}

/// A request's bearer token, verified (signature, expiry) but with its account not yet looked
/// up, and the restatement reason the request gives. A handler on a hot path takes this
/// instead of a [`Caller`] and looks the account up on the connection its own work uses
/// (`Bearer::with_conn`): one turn at the pool and one hand-over to the blocking threads per
/// request instead of two, with the same checks.
#[derive(Debug, Clone)]
pub struct Bearer {
    pub subject: Subject,
    pub restatement: Option<String>,
}

impl Bearer {
    /// The caller as the database knows them now (see [`resolve`]).
    pub fn caller(&self, conn: &mut AnyConnection) -> AppResult<Caller> {
        let mut caller = resolve(conn, &self.subject)?;
        caller.restatement = self.restatement.clone();
        Ok(caller)
    }

    /// Runs `f` as this caller on one pooled connection (`http::with_conn`): the account is
    /// looked up in the same turn, right before `f`, so a hot request waits for the pool once.
    pub async fn with_conn<T: Send + 'static>(
        self,
        pool: &crate::db::Pool,
        f: impl FnOnce(&mut AnyConnection, Caller) -> AppResult<T> + Send + 'static,
    ) -> AppResult<T> {
        crate::http::with_conn(pool, move |conn| {
            let caller = self.caller(conn)?;
            f(conn, caller)
        })
        .await
    }
}

/// The role of the user one of tomoni's own tokens names, when the token would pass
/// [`resolve`] (the account active, the sign-in not ended), else NULL: the same rule as
/// `own_caller`, as a column another statement can carry. A read that every request makes and
/// whose rows do not depend on who asks (the employees' event list with the list cache off)
/// then checks its caller in its own round trip instead of one more; an uncorrelated sub-query,
/// so both databases evaluate it once per statement, not per row.
pub fn signed_in_role(
    id: Id,
    sign_in: Id,
) -> Box<
    dyn BoxableExpression<
            EventsOfPrograms,
            <AnyConnection as diesel::Connection>::Backend,
            SqlType = Nullable<Text>,
        >,
> {
    Box::new(
        users::table
            .filter(users::id.eq(id))
            .filter(users::active.eq(true))
            .filter(sign_in_holds(id, sign_in))
            .select(users::role)
            .single_value(),
    )
}

/// Whether user `id`'s sign-in `sign_in` still holds: its refresh-token family has a token not
/// revoked (a logout, a reused refresh token or a password change revokes them all). The one
/// rule behind `own_caller` and [`signed_in_role`].
#[diesel::dsl::auto_type]
fn sign_in_holds(id: Id, sign_in: Id) -> _ {
    diesel::dsl::exists(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(sign_in))
            .filter(refresh_tokens::user_id.eq(id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
}

/// The caller of one of tomoni's own tokens, if its sign-in still holds (not logged out, its
/// refresh token not reused, no password change since). The user row and the sign-in are read
/// in one statement: this runs before every API request.
fn own_caller(conn: &mut AnyConnection, id: Id, sign_in: Id) -> AppResult<Option<Caller>> {
    let row: Option<(String, Option<Id>, bool, bool)> = users::table
        .filter(users::id.eq(id))
        .select((
            users::role,
            users::site_id,
            users::active,
            sign_in_holds(id, sign_in),
        ))
        .first(conn)
        .optional()?;
    match row {
        Some((role, site_id, active, true)) => Ok(caller_of(conn, id, &role, site_id, active)?),
        _ => Err(unauthorized(
            "invalid_token",
            "the sign-in has ended (logged out, or its refresh token was reused); sign in again",
        )),
    }
}
