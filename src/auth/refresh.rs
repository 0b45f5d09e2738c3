//! Refresh tokens: stored hashed, rotated on every use, and grouped in families (all tokens
//! descending from one sign-in). Presenting a token that was already rotated means it was
//! copied: the whole family is revoked, so the thief's and the owner's sessions both end.

use chrono::Duration;
use diesel::prelude::*;

use crate::auth::caller::{Caller, load_caller};
use crate::auth::tokens::{hash_refresh_secret, new_refresh_secret};
use crate::db::schema::refresh_tokens as rt;
use crate::db::{AnyConnection, Id, Timestamp, write_transaction};

/// What presenting a refresh token led to.
#[derive(Debug)]
pub enum Rotation {
    /// A fresh token replaced the presented one.
    Rotated {
        caller: Caller,
        refresh_token: String,
        /// The sign-in (family) it continues, for the new access token.
        sign_in: Id,
    },
    /// The token had been used before: its family is now revoked.
    Reused,
    /// Unknown, expired, revoked, or its user is deactivated.
    Invalid(&'static str),
}

/// Stores a new token in `family` (a new id for a new sign-in) and returns its secret.
pub fn issue(conn: &mut AnyConnection, user: Id, family: Id, ttl_secs: u64) -> QueryResult<String> {
    let secret = new_refresh_secret();
    let now = Timestamp::now();
    let ttl = Duration::seconds(i64::try_from(ttl_secs).unwrap_or(i64::MAX / 2_000_000));
    diesel::insert_into(rt::table)
        .values((
            rt::id.eq(Id::new()),
            rt::user_id.eq(user),
            rt::family_id.eq(family),
            rt::token_hash.eq(hash_refresh_secret(&secret)),
            rt::created_at.eq(now),
            rt::expires_at.eq(Timestamp::from(now.get() + ttl)),
        ))
        .execute(conn)?;
    Ok(secret)
}

/// Exchanges a refresh token for a new one, atomically.
pub fn rotate(conn: &mut AnyConnection, presented: &str, ttl_secs: u64) -> QueryResult<Rotation> {
    let hash = hash_refresh_secret(presented);
    write_transaction(conn, |conn| {
        type Row = (Id, Id, Id, Timestamp, Option<Timestamp>, Option<Timestamp>);
        let row: Option<Row> = rt::table
            .filter(rt::token_hash.eq(&hash))
            .select((
                rt::id,
                rt::user_id,
                rt::family_id,
                rt::expires_at,
                rt::rotated_at,
                rt::revoked_at,
            ))
            .first(conn)
            .optional()?;
        let Some((id, user, family, expires_at, rotated_at, revoked_at)) = row else {
            return Ok(Rotation::Invalid("unknown refresh token"));
        };
        if revoked_at.is_some() {
            return Ok(Rotation::Invalid("the refresh token has been revoked"));
        }
        let now = Timestamp::now();
        if rotated_at.is_some() {
            revoke_family(conn, family, now)?;
            return Ok(Rotation::Reused);
        }
        if expires_at <= now {
            return Ok(Rotation::Invalid("the refresh token has expired"));
        }
        // Guarded: of two concurrent uses of one token, exactly one rotates it.
        let claimed = diesel::update(
            rt::table
                .filter(rt::id.eq(id))
                .filter(rt::rotated_at.is_null()),
        )
        .set(rt::rotated_at.eq(now))
        .execute(conn)?;
        if claimed != 1 {
            revoke_family(conn, family, now)?;
            return Ok(Rotation::Reused);
        }
        let Some(caller) = load_caller(conn, user)? else {
            revoke_family(conn, family, now)?;
            return Ok(Rotation::Invalid("the account is deactivated"));
        };
        let refresh_token = issue(conn, user, family, ttl_secs)?;
        Ok(Rotation::Rotated {
            caller,
            refresh_token,
            sign_in: family,
        })
    })
}

/// Ends the sign-in the token belongs to. Unknown tokens are ignored (logging out twice is fine).
pub fn revoke(conn: &mut AnyConnection, presented: &str) -> QueryResult<()> {
    let hash = hash_refresh_secret(presented);
    let family: Option<Id> = rt::table
        .filter(rt::token_hash.eq(&hash))
        .select(rt::family_id)
        .first(conn)
        .optional()?;
    if let Some(family) = family {
        revoke_family(conn, family, Timestamp::now())?;
    }
    Ok(())
}

fn revoke_family(conn: &mut AnyConnection, family: Id, now: Timestamp) -> QueryResult<usize> {
    diesel::update(
        rt::table
            .filter(rt::family_id.eq(family))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(now))
    .execute(conn)
}

/// Revokes every live refresh token of a user (deactivation, password change).
pub fn revoke_all_for_user(conn: &mut AnyConnection, user: Id) -> QueryResult<usize> {
    diesel::update(
        rt::table
            .filter(rt::user_id.eq(user))
            .filter(rt::revoked_at.is_null()),
    )
    .set(rt::revoked_at.eq(Timestamp::now()))
    .execute(conn)
}
