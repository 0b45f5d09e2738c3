//! Helpers for the typed input of services (the bodies both front doors deserialise).
//!
//! A leaf module: no crate imports.

/// For `PATCH` fields that may be cleared: `#[serde(default, deserialize_with = "double_option")]`
/// makes an absent field `None` and an explicit `null` `Some(None)`.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Normalises an email address for storage and look-up (sign-in, identity matching, imports).
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}
