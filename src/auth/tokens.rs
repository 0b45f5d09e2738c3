//! Access tokens (HS256 JWTs) and refresh-token secrets.
//!
//! Access tokens are short-lived and name their sign-in (`sid`, the refresh-token family), so
//! logging out or a detected refresh-token reuse ends them at once rather than after their
//! lifetime; refresh tokens are opaque random strings of which only a SHA-256 hash is stored,
//! so a database leak does not leak usable tokens.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::roles::Role;
use crate::config::{JwtSettings, Secret};
use crate::db::Id;

/// The claims of an access token tomoni issues.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    /// The user's id.
    pub sub: String,
    pub role: Role,
    pub iat: i64,
    /// Not before: the same as `iat` in tokens tomoni issues.
    pub nbf: i64,
    pub exp: i64,
    /// The sign-in the token belongs to: its refresh-token family.
    pub sid: String,
    /// Unique per token, for log correlation.
    pub jti: String,
}

/// Why a bearer token was not accepted. The message goes to the client: it names the failed
/// check, never the expected values.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

/// Signing and verification material for tomoni's own tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl_secs: i64,
}

impl TokenKeys {
    pub fn new(secret: &Secret, settings: &JwtSettings) -> TokenKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "sub", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS as u64;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret.expose().as_bytes()),
            decoding: DecodingKey::from_secret(secret.expose().as_bytes()),
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            access_ttl_secs: settings.access_ttl_secs as i64,
        }
    }

    /// A signed access token for `user`'s sign-in `sign_in`, valid for `access_ttl_secs`.
    pub fn issue(
        &self,
        user: Id,
        role: Role,
        sign_in: Id,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: user.to_string(),
            role,
            iat: now,
            nbf: now,
            exp: now + self.access_ttl_secs,
            sid: sign_in.to_string(),
            jti: Id::new().to_string(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// Checks signature (HS256 only: a token of any other algorithm is refused), issuer,
    /// audience, expiry and not-before, then that the token was not issued in the future and
    /// lives no longer than tomoni's own tokens do (a token that passed the signature check
    /// yet says otherwise was not made by this configuration's `issue`). Whether its sign-in
    /// still holds is the database's to say (`auth::caller::resolve`).
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::Invalid("not valid yet".into()),
                ErrorKind::InvalidSignature => TokenError::Invalid("bad signature".into()),
                ErrorKind::InvalidAlgorithm => TokenError::Invalid("algorithm not accepted".into()),
                ErrorKind::InvalidAudience => TokenError::Invalid("wrong audience".into()),
                ErrorKind::InvalidIssuer => TokenError::Invalid("wrong issuer".into()),
                ErrorKind::MissingRequiredClaim(c) => {
                    TokenError::Invalid(format!("missing claim {c}"))
                }
                _ => TokenError::Invalid("malformed token".into()),
            })?;
        let now = Utc::now().timestamp();
        if claims.iat > now + LEEWAY_SECS {
            return Err(TokenError::Invalid("issued in the future".into()));
        }
        if claims.exp - claims.iat > self.access_ttl_secs + LEEWAY_SECS {
            return Err(TokenError::Invalid("lives longer than allowed".into()));
        }
        Ok(claims)
    }
}

/// Clock difference between machines tolerated on `exp`, `nbf` and `iat`, in seconds.
const LEEWAY_SECS: i64 = 30;

/// A new refresh-token secret: 32 random bytes as 64 hex characters.
pub fn new_refresh_secret() -> String {
    use rand::RngExt;
    let bytes: [u8; 32] = rand::rng().random();
    hex(&bytes)
}

/// What is stored for a refresh token: its SHA-256, hex. The secret itself has 256 bits of
/// entropy, so a fast hash is enough (no guessing attack to slow down).
pub fn hash_refresh_secret(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    fn keys(secret: &str) -> TokenKeys {
        let settings = Settings::defaults().unwrap();
        TokenKeys::new(&Secret::new(secret), &settings.jwt)
    }

    #[test]
    fn issued_tokens_verify_with_the_same_key_only() {
        let a = keys("a-secret-a-secret-a-secret-a-secret");
        let b = keys("b-secret-b-secret-b-secret-b-secret");
        let id = Id::new();
        let token = a.issue(id, Role::Hr, Id::new()).unwrap();
        let claims = a.verify(&token).unwrap();
        assert_eq!(claims.sub, id.to_string());
        assert_eq!(claims.role, Role::Hr);
        assert!(matches!(b.verify(&token), Err(TokenError::Invalid(_))));
    }

    #[test]
    fn refresh_secrets_are_random_and_hash_stably() {
        let s = new_refresh_secret();
        assert_eq!(s.len(), 64);
        assert_ne!(s, new_refresh_secret());
        assert_eq!(hash_refresh_secret(&s), hash_refresh_secret(&s));
        assert_ne!(hash_refresh_secret(&s), s);
    }
}
