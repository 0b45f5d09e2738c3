//! An OpenID Connect provider the tests run themselves, on loopback: discovery, JWKS, an
//! authorization endpoint that signs in whoever the test says (no login screen) and a token
//! endpoint that checks the code, the redirect address, the client's secret and the PKCE
//! verifier before it hands out an RS256 ID token with the request's nonce.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::rsa_key::{KeyPair, key, sign};

pub const CLIENT_ID: &str = "tomoni-web";
pub const CLIENT_SECRET: &str = "provider-issued-secret-0123456789";

/// What the authorization endpoint answers with, set by the test.
#[derive(Clone)]
pub struct Person {
    /// `None`: the provider refuses the sign-in (`error=access_denied`).
    pub email: Option<String>,
    pub email_verified: bool,
    /// Sign with another key than the published one.
    pub wrong_key: bool,
    /// Put another nonce into the ID token than the request's.
    pub wrong_nonce: bool,
    /// The company's `employee_number` claim, when the provider sends one.
    pub employee_number: Option<String>,
    /// An `at_hash` that belongs to another access token than the one handed out.
    pub wrong_at_hash: bool,
}

impl Default for Person {
    fn default() -> Self {
        Person {
            email: None,
            email_verified: true,
            wrong_key: false,
            wrong_nonce: false,
            employee_number: None,
            wrong_at_hash: false,
        }
    }
}

struct Grant {
    redirect_uri: String,
    challenge: String,
    nonce: String,
    person: Person,
}

#[derive(Default)]
struct State {
    issuer: String,
    person: Person,
    codes: HashMap<String, Grant>,
    /// Token requests answered (a test checks a replayed code gets nothing).
    tokens_issued: usize,
}

pub struct Provider {
    pub issuer: String,
    state: Arc<Mutex<State>>,
    handle: ServerHandle,
}

impl Provider {
    pub async fn start() -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let state = Arc::new(Mutex::new(State {
            issuer: issuer.clone(),
            ..State::default()
        }));
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(discovery),
                )
                .route("/jwks", web::get().to(jwks))
                .route("/authorize", web::get().to(authorize))
                .route("/token", web::post().to(token))
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        Provider {
            issuer,
            state,
            handle,
        }
    }

    /// Who the next sign-in at the provider is.
    pub fn sign_in_as(&self, person: Person) {
        self.state.lock().unwrap().person = person;
    }

    pub fn tokens_issued(&self) -> usize {
        self.state.lock().unwrap().tokens_issued
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn discovery(state: web::Data<Mutex<State>>) -> HttpResponse {
    let issuer = state.lock().unwrap().issuer.clone();
    HttpResponse::Ok().json(json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "jwks_uri": format!("{issuer}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "scopes_supported": ["openid", "email"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
}

fn published() -> &'static KeyPair {
    key(0)
}

async fn jwks() -> HttpResponse {
    let k = published();
    HttpResponse::Ok().json(json!({"keys": [
        {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": "test-key", "n": k.jwk_n, "e": k.jwk_e}
    ]}))
}

async fn authorize(
    state: web::Data<Mutex<State>>,
    q: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let get = |k: &str| q.get(k).cloned().unwrap_or_default();
    let redirect_uri = get("redirect_uri");
    let mut target = url::Url::parse(&redirect_uri).expect("redirect_uri");
    let mut s = state.lock().unwrap();
    let person = s.person.clone();
    let ok = get("response_type") == "code"
        && get("client_id") == CLIENT_ID
        && get("code_challenge_method") == "S256"
        && !get("code_challenge").is_empty()
        && get("scope").split(' ').any(|sc| sc == "openid")
        && person.email.is_some();
    if ok {
        let code = uuid::Uuid::now_v7().simple().to_string();
        s.codes.insert(
            code.clone(),
            Grant {
                redirect_uri: redirect_uri.clone(),
                challenge: get("code_challenge"),
                nonce: get("nonce"),
                person,
            },
        );
        target.query_pairs_mut().append_pair("code", &code);
    } else {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied");
    }
    target.query_pairs_mut().append_pair("state", &get("state"));
    HttpResponse::Found()
        .insert_header(("Location", target.to_string()))
        .finish()
}

async fn token(
    state: web::Data<Mutex<State>>,
    req: HttpRequest,
    form: web::Form<HashMap<String, String>>,
) -> HttpResponse {
    let get = |k: &str| form.get(k).cloned().unwrap_or_default();
    let b64 = base64::engine::general_purpose::STANDARD;
    let basic = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| b64.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok());
    let client_ok = basic.as_deref() == Some(&format!("{CLIENT_ID}:{CLIENT_SECRET}"))
        || (get("client_id") == CLIENT_ID && get("client_secret") == CLIENT_SECRET);
    let mut s = state.lock().unwrap();
    // A code works once.
    let Some(grant) = s.codes.remove(&get("code")) else {
        return HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}));
    };
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(Sha256::digest(get("code_verifier").as_bytes()));
    if !client_ok
        || get("grant_type") != "authorization_code"
        || get("redirect_uri") != grant.redirect_uri
        || challenge != grant.challenge
    {
        return HttpResponse::BadRequest().json(json!({"error": "invalid_grant"}));
    }
    s.tokens_issued += 1;
    let now = chrono::Utc::now().timestamp();
    let person = grant.person;
    let access_token = "provider-access-token";
    // OpenID Connect Core 3.1.3.6 for RS256: the left half of SHA-256 of the access token.
    let hashed = if person.wrong_at_hash {
        "another-access-token"
    } else {
        access_token
    };
    let at_hash = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(&Sha256::digest(hashed.as_bytes())[..16]);
    let mut claims: Value = json!({
        "iss": s.issuer, "sub": format!("sub-{}", person.email.clone().unwrap_or_default()),
        "aud": CLIENT_ID, "iat": now, "exp": now + 300,
        "nonce": if person.wrong_nonce { "another-nonce".to_owned() } else { grant.nonce },
        "email": person.email, "email_verified": person.email_verified,
        "at_hash": at_hash,
    });
    if let Some(number) = &person.employee_number {
        claims["employee_number"] = json!(number);
    }
    let signer = if person.wrong_key {
        key(1)
    } else {
        published()
    };
    HttpResponse::Ok().json(json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": sign(signer, Some("test-key"), &claims),
    }))
}
