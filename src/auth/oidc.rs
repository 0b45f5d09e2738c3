//! Signing in on the web pages through the company's identity provider with OpenID Connect:
//! the authorization code flow with PKCE (RFC 7636, S256), `state` and `nonce`. The ID token is
//! checked with the same library and rules as the API's external tokens (`auth::idp`): the
//! provider's published keys, its issuer, our client id as audience, expiry; then the request's
//! nonce. The person is matched to an existing, active tomoni user like those tokens are; the
//! role always comes from tomoni.
//!
//! The flow's secrets (state, nonce, PKCE verifier, where to go back) travel in a short-lived
//! cookie signed with a key derived from the service's secret, so any instance can finish a
//! flow another began. Discovery and the token exchange are blocking HTTP calls (ureq; no
//! redirects followed): run them on the blocking pool.

use std::time::Duration;

use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::idp::Identity;
use crate::config::{OidcSettings, Secret};
use crate::error::{AppError, AppResult};

/// How long a person has at the provider before the flow must start again.
const FLOW_SECS: i64 = 600;

/// The configured provider.
pub struct Oidc {
    settings: OidcSettings,
    agent: ureq::Agent,
    flow_encode: EncodingKey,
    flow_decode: DecodingKey,
}

/// What the provider publishes about itself (the part we use).
#[derive(Debug, Deserialize)]
struct Metadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// The flow's secrets, kept by the browser in a signed cookie until the provider sends it back.
#[derive(Debug, Serialize, Deserialize)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    next: String,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: String,
}

fn refused(detail: impl Into<String>) -> AppError {
    AppError::new(
        actix_web::http::StatusCode::UNAUTHORIZED,
        "oidc_refused",
        detail,
    )
}

fn unreachable_provider(e: impl std::fmt::Display) -> AppError {
    tracing::warn!(error = %e, "identity provider unreachable or answered an error");
    AppError::new(
        actix_web::http::StatusCode::BAD_GATEWAY,
        "oidc_unavailable",
        "the identity provider could not be reached",
    )
}

fn random_text() -> String {
    use rand::RngExt;
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn challenge_of(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl Oidc {
    /// The provider from the settings; `None` while `auth.oidc.issuer_url` is empty.
    pub fn from_settings(settings: &OidcSettings, service_secret: &Secret) -> Option<Oidc> {
        if settings.issuer_url.trim().is_empty() {
            return None;
        }
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(10)))
            .build()
            .into();
        let key = format!("oidc-flow:{}", service_secret.expose());
        Some(Oidc {
            settings: settings.clone(),
            agent,
            flow_encode: EncodingKey::from_secret(key.as_bytes()),
            flow_decode: DecodingKey::from_secret(key.as_bytes()),
        })
    }

    /// The sign-in button's words ("Company account").
    pub fn label(&self) -> &str {
        &self.settings.label
    }

    fn issuer(&self) -> &str {
        self.settings.issuer_url.trim().trim_end_matches('/')
    }

    fn discover(&self) -> AppResult<Metadata> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer());
        let meta: Metadata = self
            .agent
            .get(&url)
            .call()
            .map_err(unreachable_provider)?
            .body_mut()
            .read_json()
            .map_err(unreachable_provider)?;
        // OpenID Connect Discovery: the document must name the issuer it was fetched from.
        if meta.issuer.trim_end_matches('/') != self.issuer() {
            return Err(unreachable_provider(format!(
                "discovery names issuer {:?}",
                meta.issuer
            )));
        }
        Ok(meta)
    }

    /// Starts a sign-in: the provider's address to send the browser to, and the flow cookie's
    /// value. `redirect_uri` is our callback as registered at the provider. Blocking.
    pub fn begin(&self, redirect_uri: &str, next: &str) -> AppResult<(String, String)> {
        let meta = self.discover()?;
        let flow = Flow {
            state: random_text(),
            nonce: random_text(),
            verifier: random_text(),
            next: next.to_owned(),
            exp: chrono::Utc::now().timestamp() + FLOW_SECS,
        };
        let mut url = url::Url::parse(&meta.authorization_endpoint)
            .map_err(|e| unreachable_provider(format!("authorization endpoint: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid email profile")
            .append_pair("state", &flow.state)
            .append_pair("nonce", &flow.nonce)
            .append_pair("code_challenge", &challenge_of(&flow.verifier))
            .append_pair("code_challenge_method", "S256");
        let cookie = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &flow, &self.flow_encode)
            .map_err(AppError::internal)?;
        Ok((url.to_string(), cookie))
    }

    /// Finishes a sign-in the provider sent back with `code` and `state`: checks the state
    /// against the flow cookie, exchanges the code (with the PKCE verifier and our client
    /// secret), verifies the ID token and returns who it names and where to go. Blocking.
    pub fn complete(
        &self,
        redirect_uri: &str,
        flow_cookie: &str,
        state: &str,
        code: &str,
    ) -> AppResult<(Identity, String)> {
        let mut v = Validation::new(Algorithm::HS256);
        v.set_required_spec_claims(&["exp"]);
        v.validate_aud = false;
        v.leeway = 0;
        let flow = jsonwebtoken::decode::<Flow>(flow_cookie, &self.flow_decode, &v)
            .map_err(|_| refused("the sign-in took too long or did not start here; try again"))?
            .claims;
        use subtle::ConstantTimeEq;
        if !bool::from(flow.state.as_bytes().ct_eq(state.as_bytes())) {
            return Err(refused(
                "the sign-in did not start in this browser; try again",
            ));
        }
        let meta = self.discover()?;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            self.settings.client_id,
            self.settings.client_secret.expose()
        ));
        let answer: TokenAnswer = match self
            .agent
            .post(&meta.token_endpoint)
            .header("Authorization", &format!("Basic {basic}"))
            .send_form([
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", flow.verifier.as_str()),
            ]) {
            Ok(mut res) => res.body_mut().read_json().map_err(unreachable_provider)?,
            Err(ureq::Error::StatusCode(status)) if (400..500).contains(&status) => {
                return Err(refused(
                    "the identity provider did not accept the sign-in; try again",
                ));
            }
            Err(e) => return Err(unreachable_provider(e)),
        };
        let jwks: JwkSet = self
            .agent
            .get(&meta.jwks_uri)
            .call()
            .map_err(unreachable_provider)?
            .body_mut()
            .read_json()
            .map_err(unreachable_provider)?;
        let claims = self.verify_id_token(&answer.id_token, &jwks, &meta.issuer)?;
        if claims.get("nonce").and_then(|n| n.as_str()) != Some(flow.nonce.as_str()) {
            return Err(refused(
                "the identity provider's answer is not for this sign-in",
            ));
        }
        if self.settings.claim == "email"
            && claims.get("email_verified").and_then(|v| v.as_bool()) == Some(false)
        {
            return Err(refused(
                "the identity provider has not verified this email address",
            ));
        }
        let value = claims
            .get(&self.settings.claim)
            .and_then(|v| v.as_str())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| refused(format!("the ID token has no {}", self.settings.claim)))?;
        Ok((
            Identity {
                match_by: self.settings.match_by,
                value: value.to_owned(),
            },
            flow.next,
        ))
    }

    fn verify_id_token(
        &self,
        token: &str,
        jwks: &JwkSet,
        issuer: &str,
    ) -> AppResult<serde_json::Value> {
        let bad = |why: &str| refused(format!("the ID token is not valid: {why}"));
        let header = jsonwebtoken::decode_header(token).map_err(|_| bad("malformed"))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(bad("algorithm not accepted"));
        }
        let jwk = match &header.kid {
            Some(kid) => jwks.find(kid),
            None if jwks.keys.len() == 1 => jwks.keys.first(),
            None => None,
        }
        .ok_or_else(|| bad("unknown signing key"))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|_| bad("unusable signing key"))?;
        let mut v = Validation::new(header.alg);
        v.set_issuer(&[issuer]);
        v.set_audience(&[self.settings.client_id.as_str()]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v.leeway = 60;
        jsonwebtoken::decode::<serde_json::Value>(token, &key, &v)
            .map(|d| d.claims)
            .map_err(|e| bad(&e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::challenge_of;

    /// S256 is base64url (no padding) of SHA-256: FIPS 180-2's "abc" vector
    /// (ba7816bf...f20015ad) written that way.
    #[test]
    fn the_pkce_challenge_is_s256_of_the_verifier() {
        assert_eq!(
            challenge_of("abc"),
            "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0"
        );
    }
}
