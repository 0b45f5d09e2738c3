//! The `Caller` extractor: a handler that takes a `Caller` cannot run for an anonymous or
//! deactivated user. Role and site-scope checks are methods on it, so they read as one line in
//! the handler.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use diesel::prelude::*;

use crate::AppState;
use crate::auth::idp::Identity;
use crate::auth::roles::Role;
use crate::config::IdpMatch;
use crate::db::schema::{coordinator_sites, users};
use crate::db::{AnyConnection, Id};
use crate::error::{AppError, AppResult};
use crate::people::users::normalize_email;

/// The authenticated user making the request, as the database knows them now (a role change or
/// deactivation takes effect on the next request, not when the token expires).
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: Id,
    pub role: Role,
    pub site_id: Option<Id>,
    /// Sites a coordinator coordinates (empty for other roles).
    pub sites: Vec<Id>,
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
    let Some((role, site_id, true)) = row else {
        return Ok(None);
    };
    let Ok(role) = role.parse::<Role>() else {
        return Ok(None);
    };
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
    }))
}

/// Whose token it is: one of ours (user id) or the identity provider's (a claim to match).
enum Subject {
    Own(Id),
    External(Identity),
}

fn find_by_identity(conn: &mut AnyConnection, identity: &Identity) -> QueryResult<Option<Id>> {
    let query = users::table.select(users::id).into_boxed();
    let query = match identity.match_by {
        IdpMatch::Email => query.filter(users::email.eq(normalize_email(&identity.value))),
        IdpMatch::EmployeeNumber => query.filter(users::employee_number.eq(identity.value.clone())),
    };
    query.first(conn).optional()
}

fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

impl FromRequest for Caller {
    type Error = AppError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, AppError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| AppError::internal("application state missing"))?;
            let token =
                token.ok_or_else(|| unauthorized("unauthorized", "a bearer token is required"))?;
            let alg = jsonwebtoken::decode_header(&token).map(|h| h.alg).ok();
            let subject = match (&state.idp, alg) {
                (Some(idp), Some(alg)) if idp.handles(alg) => Subject::External(
                    idp.verify(&token)
                        .map_err(|e| unauthorized("invalid_token", e.to_string()))?,
                ),
                _ => {
                    let claims = state
                        .tokens
                        .verify(&token)
                        .map_err(|e| unauthorized("invalid_token", e.to_string()))?;
                    Subject::Own(claims.sub.parse().map_err(|_| {
                        unauthorized("invalid_token", "the token's subject is not a user id")
                    })?)
                }
            };
            let pool = state.pool.clone();
            let caller = web::block(move || -> AppResult<Option<Caller>> {
                let mut conn = pool.get()?;
                let id = match subject {
                    Subject::Own(id) => Some(id),
                    Subject::External(identity) => find_by_identity(&mut conn, &identity)?,
                };
                match id {
                    Some(id) => Ok(load_caller(&mut conn, id)?),
                    None => Ok(None),
                }
            })
            .await??;
            caller.ok_or_else(|| {
                unauthorized(
                    "invalid_token",
                    "the account does not exist or is deactivated",
                )
            })
        })
    }
}
