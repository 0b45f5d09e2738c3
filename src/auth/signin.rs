//! Signing in with email and password, the same for both front doors: the API issues tokens
//! afterwards, the web pages a session.

use std::net::IpAddr;

use diesel::prelude::*;

use crate::auth::caller::{Caller, load_caller, unauthorized};
use crate::auth::password;
use crate::auth::ratelimit::{LoginLimiter, too_many_attempts};
use crate::db::schema::users;
use crate::db::{Id, Pool};
use crate::error::{AppError, AppResult};
use crate::input::normalize_email;

/// 429 with `Retry-After` when this account (from this address, or from everywhere) or this
/// address has failed too often; takes one attempt from each budget.
pub fn check_limit(limiter: &LoginLimiter, email: &str, address: Option<IpAddr>) -> AppResult<()> {
    limiter
        .check(&normalize_email(email), address)
        .map_err(|wait| too_many_attempts("sign-in", wait))
}

/// The sign-in `check_limit` let through succeeded: only failures count against the limits.
pub fn succeeded(limiter: &LoginLimiter, email: &str, address: Option<IpAddr>) {
    limiter.succeeded(&normalize_email(email), address);
}

/// 429 with `Retry-After` when "forgot password" was asked too often for this address or client
/// (the sign-in budgets, counted apart from sign-ins).
pub fn check_reset_limit(
    limiter: &LoginLimiter,
    email: &str,
    address: Option<IpAddr>,
) -> AppResult<()> {
    limiter
        .check(&normalize_email(email), address)
        .map_err(|wait| too_many_attempts("password reset", wait))
}

/// The caller behind an email and password. Wrong email, wrong password and a deactivated
/// account answer the same 401 in the same time. Blocking: the hash is checked without holding
/// a pooled connection (it takes tens of milliseconds), so run it on the blocking pool.
pub fn verify_password(pool: &Pool, email: &str, given: &str) -> AppResult<Caller> {
    let found: Option<(Id, Option<String>)> = {
        let mut conn = pool.get()?;
        users::table
            .filter(users::email.eq(normalize_email(email)))
            .select((users::id, users::password_hash))
            .first(&mut conn)
            .optional()?
    };
    let user = match found {
        Some((id, Some(hash))) if password::verify(given, &hash) => id,
        Some((_, Some(_))) => return Err(invalid_credentials()),
        _ => {
            password::verify_dummy(given);
            return Err(invalid_credentials());
        }
    };
    let mut conn = pool.get()?;
    // A deactivated account answers exactly like a wrong password: a distinct answer would
    // confirm to whoever holds the password that it is right.
    load_caller(&mut conn, user)?.ok_or_else(|| {
        tracing::info!(user = %user, "sign-in refused: the account is deactivated");
        invalid_credentials()
    })
}

fn invalid_credentials() -> AppError {
    unauthorized("invalid_credentials", "wrong email or password")
}
