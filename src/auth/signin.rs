//! Signing in with email and password, the same for both front doors: the API issues tokens
//! afterwards, the web pages a session.

use std::net::IpAddr;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use diesel::prelude::*;

use crate::auth::caller::{Caller, load_caller, unauthorized};
use crate::auth::password;
use crate::auth::ratelimit::LoginLimiter;
use crate::db::schema::users;
use crate::db::{Id, Pool};
use crate::error::{AppError, AppResult};
use crate::input::normalize_email;

/// 429 with `Retry-After` when this account or address has tried too often.
pub fn check_limit(limiter: &LoginLimiter, email: &str, address: Option<IpAddr>) -> AppResult<()> {
    match limiter.check(&normalize_email(email), address) {
        Ok(()) => Ok(()),
        Err(wait) => {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            tracing::warn!(retry_after = secs, "sign-in rate limit reached");
            Err(AppError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!("too many sign-in attempts; retry in {secs} s"),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from(secs.max(1))))
        }
    }
}

/// The caller behind an email and password. Wrong email, wrong password and a deactivated
/// account answer the same 401 in the same time. Blocking: the hash is checked without holding a pooled connection (it takes
/// tens of milliseconds), so run it on the blocking pool.
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
