//! Signing in on the web pages through the company's identity provider with OpenID Connect:
//! the authorization code flow with PKCE (S256), `state` and `nonce`, by the `openidconnect`
//! crate: discovery (the document must name the issuer it came from), the authorization
//! address, the code exchange (client secret by HTTP Basic) and the ID token's checks (the
//! provider's published keys, RS256 or ES256, issuer, our client id as audience, expiry, the
//! request's nonce, and the access token's hash when the token carries one). The person is then
//! matched to an existing, active tomoni user like the API's external tokens are; the role
//! always comes from tomoni.
//!
//! The flow's secrets (state, nonce, PKCE verifier, where to go back) travel in a short-lived
//! cookie signed with a key derived from the service's secret, so any instance can finish a
//! flow another began. The crate's HTTP calls go through the service's blocking ureq agent (no
//! redirects followed, bounded answers): run them on the blocking pool.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreGenderClaim, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IdToken,
    IdTokenVerifier, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};

use crate::auth::idp::Identity;
use crate::config::{OidcSettings, Secret};
use crate::error::{AppError, AppResult};

/// How long a person has at the provider before the flow must start again.
const FLOW_SECS: i64 = 600;

/// The most a provider's answer (discovery, keys, tokens) may weigh.
const ANSWER_LIMIT: u64 = 1024 * 1024;

/// The configured provider.
pub struct Oidc {
    settings: OidcSettings,
    agent: ureq::Agent,
    flow_encode: EncodingKey,
    flow_decode: DecodingKey,
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

/// Every claim of the ID token beyond the standard ones, so that `auth.oidc.claim` can name a
/// company-specific one (an employee number).
#[derive(Debug, Serialize, Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: serde_json::Map<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

/// The client discovery gives: an authorization address, maybe a token address.
type Client = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The ID token read with [`OtherClaims`] (the crate's core client reads none).
type CompanyIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

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

fn bad_token(why: impl std::fmt::Display) -> AppError {
    refused(format!("the ID token is not valid: {why}"))
}

impl Oidc {
    /// The provider from the settings; `None` while `auth.oidc.issuer_url` is empty.
    pub fn from_settings(settings: &OidcSettings, service_secret: &Secret) -> Option<Oidc> {
        if settings.issuer_url.trim().is_empty() {
            return None;
        }
        // The crate reads the provider's error answers itself, so statuses are not errors
        // here; redirects are not followed (a redirect to an internal address would be SSRF).
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
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

    /// One HTTP exchange for the crate, through our agent, the answer read up to a bound.
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, ureq::Error> {
        let (parts, mut body) = self.agent.run(request)?.into_parts();
        let bytes = body.with_config().limit(ANSWER_LIMIT).read_to_vec()?;
        Ok(HttpResponse::from_parts(parts, bytes))
    }

    fn issuer(&self) -> AppResult<IssuerUrl> {
        IssuerUrl::new(
            self.settings
                .issuer_url
                .trim()
                .trim_end_matches('/')
                .to_owned(),
        )
        .map_err(|e| unreachable_provider(format!("issuer_url: {e}")))
    }

    /// Discovery (which also fetches the provider's keys) and the client built on it.
    fn client(&self, redirect_uri: &str) -> AppResult<Client> {
        let send = |r| self.send(r);
        let meta =
            CoreProviderMetadata::discover(&self.issuer()?, &send).map_err(unreachable_provider)?;
        let redirect = RedirectUrl::new(redirect_uri.to_owned()).map_err(AppError::internal)?;
        Ok(CoreClient::from_provider_metadata(
            meta,
            ClientId::new(self.settings.client_id.clone()),
            Some(ClientSecret::new(
                self.settings.client_secret.expose().to_owned(),
            )),
        )
        .set_redirect_uri(redirect))
    }

    /// Starts a sign-in: the provider's address to send the browser to, and the flow cookie's
    /// value. `redirect_uri` is our callback as registered at the provider. Blocking.
    pub fn begin(&self, redirect_uri: &str, next: &str) -> AppResult<(String, String)> {
        let client = self.client(redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let flow = Flow {
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            next: next.to_owned(),
            exp: chrono::Utc::now().timestamp() + FLOW_SECS,
        };
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
        let client = self.client(redirect_uri)?;
        let send = |r| self.send(r);
        let answer = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(unreachable_provider)?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier))
            .request(&send)
            .map_err(|e| match e {
                // The provider answered and said no (a used or foreign code, a wrong verifier).
                RequestTokenError::ServerResponse(_) => {
                    refused("the identity provider did not accept the sign-in; try again")
                }
                other => unreachable_provider(other),
            })?;
        let raw = answer
            .id_token()
            .ok_or_else(|| bad_token("the provider sent none"))?
            .to_string();
        let token: CompanyIdToken = raw.parse().map_err(|_| bad_token("malformed"))?;
        let verifier: IdTokenVerifier<CoreJsonWebKey> =
            client.id_token_verifier().set_allowed_algs([
                CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
                CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            ]);
        let claims = token
            .claims(&verifier, &Nonce::new(flow.nonce))
            .map_err(|e| {
                use openidconnect::ClaimsVerificationError as E;
                match e {
                    E::InvalidNonce(_) => {
                        refused("the identity provider's answer is not for this sign-in")
                    }
                    other => bad_token(other),
                }
            })?;
        // OpenID Connect Core 3.1.3.8: an at_hash, when present, must match the access token.
        if let Some(expected) = claims.access_token_hash() {
            let alg = token.signing_alg().map_err(bad_token)?;
            let key = token.signing_key(&verifier).map_err(bad_token)?;
            let actual =
                AccessTokenHash::from_token(answer.access_token(), alg, key).map_err(bad_token)?;
            if actual != *expected {
                return Err(bad_token("the access token does not match it"));
            }
        }
        let value = match self.settings.claim.as_str() {
            "email" => {
                if claims.email_verified() == Some(false) {
                    return Err(refused(
                        "the identity provider has not verified this email address",
                    ));
                }
                claims.email().map(|e| e.as_str().to_owned())
            }
            "sub" => Some(claims.subject().as_str().to_owned()),
            "preferred_username" => claims.preferred_username().map(|u| u.as_str().to_owned()),
            other => claims
                .additional_claims()
                .claims
                .get(other)
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        };
        let value = value
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| refused(format!("the ID token has no {}", self.settings.claim)))?;
        Ok((
            Identity {
                match_by: self.settings.match_by,
                value,
            },
            flow.next,
        ))
    }
}
