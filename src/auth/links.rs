//! Password links: single-use, expiring links that let a person set a password, sent as an
//! invitation (a new account) or after "forgot password".
//!
//! A link's secret exists only in the mail that carries it. The row is written without one (in
//! the transaction that queues the mail), and the secret is minted when the mail is composed,
//! with only its hash stored: neither `password_links` nor the outbox holds a usable link, and a
//! database dump opens no account. A newer link for the same person replaces the older ones.

use chrono::Duration;
use diesel::prelude::*;

use crate::auth::password;
use crate::auth::tokens::{hash_refresh_secret, new_refresh_secret};
use crate::db::schema::{password_links as links, users};
use crate::db::{AnyConnection, Id, Pool, Timestamp, write_transaction};
use crate::error::{AppError, AppResult, FieldError};
use crate::outbox::{self, Outgoing, kind};

/// Why a link was sent; the mail's wording follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Invitation,
    Reset,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Invitation => "invitation",
            Purpose::Reset => "reset",
        }
    }

    fn mail_kind(self) -> &'static str {
        match self {
            Purpose::Invitation => kind::INVITATION,
            Purpose::Reset => kind::PASSWORD_RESET,
        }
    }
}

/// Writes a link for `user` and queues the mail that will carry it, in the caller's
/// transaction; earlier unused links of the user stop working. Returns the link and its expiry.
pub fn issue(
    conn: &mut AnyConnection,
    user: Id,
    purpose: Purpose,
    ttl: Duration,
    by: Option<Id>,
) -> AppResult<(Id, Timestamp)> {
    let now = Timestamp::now();
    diesel::update(
        links::table
            .filter(links::user_id.eq(user))
            .filter(links::used_at.is_null())
            .filter(links::expires_at.gt(now)),
    )
    .set(links::expires_at.eq(now))
    .execute(conn)?;
    let id = Id::new();
    let expires = Timestamp::from(now.get() + ttl);
    diesel::insert_into(links::table)
        .values((
            links::id.eq(id),
            links::user_id.eq(user),
            links::purpose.eq(purpose.as_str()),
            links::created_by.eq(by),
            links::created_at.eq(now),
            links::expires_at.eq(expires),
        ))
        .execute(conn)?;
    outbox::enqueue(
        conn,
        Outgoing {
            kind: purpose.mail_kind(),
            dedupe_key: format!("{}:{id}", purpose.mail_kind()),
            user,
            payload: serde_json::json!({ "link_id": id }),
            not_before: now,
        },
    )?;
    Ok((id, expires))
}

/// Gives a link its secret, for the mail being composed; `None` once the link was used,
/// replaced or has expired (the mail is then withdrawn). Composing again (a retried delivery)
/// mints a new secret and the earlier one stops working.
pub fn mint(conn: &mut AnyConnection, link: Id) -> AppResult<Option<(String, Timestamp)>> {
    let secret = new_refresh_secret();
    let now = Timestamp::now();
    let n = diesel::update(
        links::table
            .filter(links::id.eq(link))
            .filter(links::used_at.is_null())
            .filter(links::expires_at.gt(now)),
    )
    .set(links::token_hash.eq(Some(hash_refresh_secret(&secret))))
    .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    let expires = links::table
        .filter(links::id.eq(link))
        .select(links::expires_at)
        .first(conn)?;
    Ok(Some((secret, expires)))
}

fn invalid_link() -> AppError {
    AppError::new(
        actix_web::http::StatusCode::BAD_REQUEST,
        "invalid_link",
        "this link is unknown, already used or expired; ask for a new one",
    )
}

/// Checks a new password against the rules, naming the field.
pub fn check_password(new_password: &str) -> AppResult<()> {
    if new_password.chars().count() < password::MIN_PASSWORD_LEN {
        return Err(AppError::validation(vec![FieldError::new(
            "password",
            "too_short",
            format!("at least {} characters", password::MIN_PASSWORD_LEN),
        )]));
    }
    Ok(())
}

/// Sets the password of the link's owner and uses the link up, ending every other sign-in of
/// theirs (refresh tokens; access tokens run out within their short lifetime). Blocking: the
/// hash is computed before a pooled connection is taken, so run it on the blocking pool.
pub fn redeem(pool: &Pool, secret: &str, new_password: &str) -> AppResult<Id> {
    check_password(new_password)?;
    let hash = hash_refresh_secret(secret.trim());
    {
        // A cheap look first: no argon2 work for a link that cannot work.
        let mut conn = pool.get()?;
        live_owner(&mut conn, &hash)?.ok_or_else(invalid_link)?;
    }
    let password_hash = password::hash(new_password).map_err(AppError::internal)?;
    let mut conn = pool.get()?;
    write_transaction(&mut conn, |conn| {
        let user = live_owner(conn, &hash)?.ok_or_else(invalid_link)?;
        let now = Timestamp::now();
        // The guard makes the link single-use even when two requests race with it.
        let n = diesel::update(
            links::table
                .filter(links::token_hash.eq(&hash))
                .filter(links::used_at.is_null()),
        )
        .set(links::used_at.eq(Some(now)))
        .execute(conn)?;
        if n == 0 {
            return Err(invalid_link());
        }
        diesel::update(users::table.filter(users::id.eq(user)))
            .set((
                users::password_hash.eq(Some(&password_hash)),
                users::updated_at.eq(now),
            ))
            .execute(conn)?;
        crate::auth::end_all_sign_ins(conn, user)?;
        crate::audit::record(
            conn,
            crate::audit::Entry {
                actor: Some(user),
                action: "user.password_set",
                entity_type: "user",
                entity_id: Some(user.to_string()),
                details: serde_json::json!({ "through": "link" }),
                request_id: None,
            },
        )?;
        Ok(user)
    })
}

/// The active user behind an unused, unexpired link.
fn live_owner(conn: &mut AnyConnection, hash: &str) -> AppResult<Option<Id>> {
    Ok(links::table
        .inner_join(users::table)
        .filter(links::token_hash.eq(hash))
        .filter(links::used_at.is_null())
        .filter(links::expires_at.gt(Timestamp::now()))
        .filter(users::active.eq(true))
        .select(users::id)
        .first(conn)
        .optional()?)
}

/// "Forgot password": queues a reset link when `email` belongs to an active account, and does
/// nothing otherwise. The caller answers the same either way, so the answer tells nobody
/// whether an address has an account.
pub fn request_reset(conn: &mut AnyConnection, email: &str, ttl: Duration) -> AppResult<()> {
    let email = crate::input::normalize_email(email);
    write_transaction(conn, |conn| {
        let user: Option<Id> = users::table
            .filter(users::email.eq(&email))
            .filter(users::active.eq(true))
            .select(users::id)
            .first(conn)
            .optional()?;
        match user {
            Some(user) => {
                issue(conn, user, Purpose::Reset, ttl, None)?;
                tracing::info!(user = %user, "password reset link queued");
            }
            None => tracing::info!("password reset asked for an address with no active account"),
        }
        Ok(())
    })
}
