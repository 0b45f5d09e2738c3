//! Who is calling, and what they may do: passwords, tokens, the `Caller` extractor, sign-in.

pub mod caller;
pub mod idp;
pub mod links;
pub mod oidc;
pub mod password;
pub mod ratelimit;
pub mod refresh;
pub mod roles;
pub mod secret;
pub mod session;
pub mod signin;
pub mod tokens;

pub use caller::Caller;
pub use roles::Role;

/// Ends everything a user is signed in with — refresh-token families and web sessions — when
/// they are deactivated or their password changes: whoever held the old password is out.
pub fn end_all_sign_ins(
    conn: &mut crate::db::AnyConnection,
    user: crate::db::Id,
) -> diesel::QueryResult<()> {
    refresh::revoke_all_for_user(conn, user)?;
    session::end_all_for_user(conn, user)?;
    Ok(())
}
