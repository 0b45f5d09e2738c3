//! The organisation: group companies, their sites (a dated registry), and partner organisations.

pub mod companies;
pub mod import;
pub mod partners;
pub mod sites;

use crate::auth::{Caller, Role};
use crate::error::{AppError, AppResult, FieldError};

/// Everyone signed in reads the organisation; only admins change it (companies, sites,
/// partners, the sites import).
pub fn require_admin(caller: &Caller) -> AppResult<()> {
    caller.require(&[Role::Admin])
}

/// Codes: 1-32 characters of letters, digits, `-`, `_`, `.`.
pub(crate) fn check_code(field: &str, code: &str) -> Option<FieldError> {
    let code = code.trim();
    let ok = (1..=32).contains(&code.len())
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    (!ok).then(|| {
        FieldError::new(
            field,
            "invalid_format",
            "1 to 32 letters, digits, '-', '_' or '.'",
        )
    })
}

pub(crate) fn check_name(field: &str, name: &str) -> Option<FieldError> {
    let n = name.trim().chars().count();
    (!(1..=200).contains(&n))
        .then(|| FieldError::new(field, "invalid_length", "1 to 200 characters"))
        .or_else(|| crate::input::single_line(field, name))
}

/// ISO 3166-1 alpha-2, upper case (callers upper-case first).
pub(crate) fn check_country(field: &str, country: &str) -> Option<FieldError> {
    let ok = country.len() == 2 && country.chars().all(|c| c.is_ascii_uppercase());
    (!ok).then(|| {
        FieldError::new(
            field,
            "invalid_format",
            "a two-letter ISO 3166 country code, e.g. JP",
        )
    })
}

/// An IANA time zone name known to the bundled tz database.
pub(crate) fn check_timezone(field: &str, tz: &str) -> Option<FieldError> {
    tz.parse::<chrono_tz::Tz>().is_err().then(|| {
        FieldError::new(
            field,
            "unknown_timezone",
            "an IANA time zone such as Asia/Tokyo",
        )
    })
}

/// Maps a unique violation to a 409 with a specific code.
pub(crate) fn unique_conflict(
    e: diesel::result::Error,
    code: &'static str,
    detail: &'static str,
) -> AppError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => AppError::conflict(code, detail),
        other => other.into(),
    }
}
