//! Tokens from the company's identity provider (an OIDC/JWT issuer), accepted beside tomoni's
//! own. Off unless `auth.idp.issuer` is set.
//!
//! The provider vouches for *who* the caller is; *what* they may do still comes from tomoni's
//! users table (role, sites, active), found by the configured claim. Nobody is created on the
//! fly: an employee unknown to tomoni gets 401 until HR has imported them.

use std::path::Path;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::auth::tokens::TokenError;
use crate::config::{IdpMatch, IdpSettings};

#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    #[error("auth.idp: {0}")]
    Config(String),
    #[error("auth.idp: cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("auth.idp: {path} holds no usable key: {reason}")]
    Key { path: String, reason: String },
}

enum Keys {
    /// One PEM public key.
    Single(DecodingKey),
    /// A JWKS: the token's `kid` picks the key.
    Set(Vec<(Option<String>, DecodingKey)>),
}

/// The identity a verified provider token names, to be matched against users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub match_by: IdpMatch,
    pub value: String,
}

pub struct ExternalIdp {
    algorithm: Algorithm,
    validation: Validation,
    keys: Keys,
    match_by: IdpMatch,
    claim: String,
}

impl ExternalIdp {
    /// `None` when no issuer is configured.
    pub fn from_settings(settings: &IdpSettings) -> Result<Option<ExternalIdp>, IdpError> {
        if settings.issuer.trim().is_empty() {
            return Ok(None);
        }
        if settings.audience.trim().is_empty() {
            return Err(IdpError::Config("audience must be set with issuer".into()));
        }
        let algorithm = match settings.algorithm.as_str() {
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            other => {
                return Err(IdpError::Config(format!(
                    "algorithm {other:?}: use RS256 or ES256"
                )));
            }
        };
        let pem = &settings.public_key_file;
        let jwks = &settings.jwks_file;
        let keys = match (pem.as_os_str().is_empty(), jwks.as_os_str().is_empty()) {
            (false, true) => Keys::Single(pem_key(pem, algorithm)?),
            (true, false) => Keys::Set(jwks_keys(jwks)?),
            _ => {
                return Err(IdpError::Config(
                    "set exactly one of public_key_file and jwks_file".into(),
                ));
            }
        };
        let mut validation = Validation::new(algorithm);
        validation.set_issuer(&[settings.issuer.trim()]);
        validation.set_audience(&[settings.audience.trim()]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 60;
        Ok(Some(ExternalIdp {
            algorithm,
            validation,
            keys,
            match_by: settings.match_by,
            claim: settings.claim.clone(),
        }))
    }

    /// Whether a token of this algorithm is the provider's to judge.
    pub fn handles(&self, alg: Algorithm) -> bool {
        alg == self.algorithm
    }

    /// Verifies signature, issuer, audience and expiry, and returns the identity claim.
    pub fn verify(&self, token: &str) -> Result<Identity, TokenError> {
        use jsonwebtoken::errors::ErrorKind;
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| TokenError::Invalid("malformed token".into()))?;
        let key = match &self.keys {
            Keys::Single(key) => key,
            Keys::Set(keys) => {
                let found = match &header.kid {
                    Some(kid) => keys
                        .iter()
                        .find(|(k, _)| k.as_deref() == Some(kid.as_str())),
                    None if keys.len() == 1 => keys.first(),
                    None => None,
                };
                &found
                    .ok_or_else(|| TokenError::Invalid("unknown signing key".into()))?
                    .1
            }
        };
        let data = jsonwebtoken::decode::<serde_json::Value>(token, key, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::InvalidSignature => TokenError::Invalid("bad signature".into()),
                ErrorKind::InvalidAudience => TokenError::Invalid("wrong audience".into()),
                ErrorKind::InvalidIssuer => TokenError::Invalid("wrong issuer".into()),
                ErrorKind::InvalidAlgorithm => TokenError::Invalid("algorithm not accepted".into()),
                _ => TokenError::Invalid("malformed token".into()),
            })?;
        let value = data
            .claims
            .get(&self.claim)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| TokenError::Invalid(format!("missing claim {}", self.claim)))?;
        Ok(Identity {
            match_by: self.match_by,
            value: value.to_owned(),
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, IdpError> {
    std::fs::read(path).map_err(|source| IdpError::Read {
        path: path.display().to_string(),
        source,
    })
}

fn pem_key(path: &Path, algorithm: Algorithm) -> Result<DecodingKey, IdpError> {
    let pem = read(path)?;
    let key = match algorithm {
        Algorithm::ES256 => DecodingKey::from_ec_pem(&pem),
        _ => DecodingKey::from_rsa_pem(&pem),
    };
    key.map_err(|e| IdpError::Key {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

fn jwks_keys(path: &Path) -> Result<Vec<(Option<String>, DecodingKey)>, IdpError> {
    let fail = |reason: String| IdpError::Key {
        path: path.display().to_string(),
        reason,
    };
    let set: JwkSet = serde_json::from_slice(&read(path)?).map_err(|e| fail(e.to_string()))?;
    let keys: Vec<_> = set
        .keys
        .iter()
        .filter_map(|jwk| {
            DecodingKey::from_jwk(jwk)
                .ok()
                .map(|k| (jwk.common.key_id.clone(), k))
        })
        .collect();
    if keys.is_empty() {
        return Err(fail("no RSA or EC key in the set".into()));
    }
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::Settings;

    fn base() -> IdpSettings {
        Settings::defaults().unwrap().auth.idp
    }

    #[test]
    fn off_by_default() {
        assert!(ExternalIdp::from_settings(&base()).unwrap().is_none());
    }

    #[test]
    fn misconfigurations_are_refused_at_start_up() {
        let mut s = base();
        s.issuer = "https://idp.example.com".into();
        let err = |s: &IdpSettings| {
            ExternalIdp::from_settings(s)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(err(&s).contains("audience"));
        s.audience = "tomoni".into();
        assert!(err(&s).contains("exactly one"));
        s.public_key_file = "/nonexistent/key.pem".into();
        assert!(err(&s).contains("cannot read"));
        s.jwks_file = "/nonexistent/jwks.json".into();
        assert!(err(&s).contains("exactly one"));
        s.jwks_file = PathBuf::new();
        s.algorithm = "HS256".into();
        assert!(err(&s).contains("RS256 or ES256"));
    }
}
