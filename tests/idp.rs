//! Tokens from an external identity provider (RS256; PEM key or JWKS) are accepted and mapped
//! to tomoni users by the configured claim; everything else about them is checked strictly.

mod common;

use chrono::Utc;
use common::rsa_key::{KeyPair, key, sign};
use common::{Backend, TestApp, TestDb, assert_problem};
use diesel::prelude::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tomoni::auth::Role;
use tomoni::config::IdpMatch;
use tomoni::db::schema::users;

const ISSUER: &str = "https://idp.example.com";
const AUDIENCE: &str = "tomoni-api";

fn claims(extra: Value) -> Value {
    let now = Utc::now().timestamp();
    let mut c = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "idp-subject-1", "iat": now, "exp": now + 600});
    for (k, v) in extra.as_object().unwrap() {
        c[k] = v.clone();
    }
    c
}

async fn provider_tokens_with_a_pem_key_map_by_email(backend: Backend) {
    let db = TestDb::new(&backend);
    let key_file = db.data_dir().join("idp.pem");
    std::fs::write(&key_file, &key(0).public_pem).unwrap();
    let mut settings = db.settings();
    settings.auth.idp.issuer = ISSUER.into();
    settings.auth.idp.audience = AUDIENCE.into();
    settings.auth.idp.public_key_file = key_file;
    let app = TestApp::spawn_with(db, settings).await;
    let user = app.user(Role::Coordinator, None);

    let token = sign(
        key(0),
        None,
        &claims(json!({"email": user.email.to_uppercase()})),
    );
    let (status, _, me) = app.get_as(&token, "/api/v1/me").await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["id"], user.id.to_string());
    assert_eq!(me["role"], "coordinator", "the role comes from tomoni");

    let mut rejected = vec![
        (
            "another key",
            sign(key(1), None, &claims(json!({"email": user.email}))),
        ),
        (
            "wrong issuer",
            sign(
                key(0),
                None,
                &claims(json!({"email": user.email, "iss": "https://evil.example"})),
            ),
        ),
        (
            "wrong audience",
            sign(
                key(0),
                None,
                &claims(json!({"email": user.email, "aud": "other"})),
            ),
        ),
        (
            "expired",
            sign(
                key(0),
                None,
                &claims(json!({"email": user.email, "exp": Utc::now().timestamp() - 600})),
            ),
        ),
        ("no email claim", sign(key(0), None, &claims(json!({})))),
        (
            "unknown user",
            sign(
                key(0),
                None,
                &claims(json!({"email": "stranger@example.com"})),
            ),
        ),
    ];
    // The provider's key does not make HS256 tokens with made-up secrets acceptable.
    rejected.push((
        "HS256 with another secret",
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(json!({"email": user.email})),
            &EncodingKey::from_secret(b"guessed-guessed-guessed-guessed"),
        )
        .unwrap(),
    ));
    for (what, token) in rejected {
        let got = app.get_as(&token, "/api/v1/me").await;
        assert_eq!(got.0, 401, "{what}: {}", got.2);
        assert_problem(&got, 401, "invalid_token");
    }

    // tomoni's own tokens keep working beside the provider's.
    assert_eq!(app.get_as(&app.token(&user), "/api/v1/me").await.0, 200);

    // A deactivated employee is refused even with a valid provider token.
    diesel::update(users::table.filter(users::id.eq(user.id)))
        .set(users::active.eq(false))
        .execute(&mut app.conn())
        .unwrap();
    assert_problem(
        &app.get_as(&token, "/api/v1/me").await,
        401,
        "invalid_token",
    );
}

async fn provider_tokens_with_a_jwks_map_by_employee_number(backend: Backend) {
    let db = TestDb::new(&backend);
    let jwks_file = db.data_dir().join("jwks.json");
    let jwk = |k: &KeyPair, kid: &str| json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": k.jwk_n, "e": k.jwk_e});
    std::fs::write(
        &jwks_file,
        json!({"keys": [jwk(key(0), "k0"), jwk(key(1), "k1")]}).to_string(),
    )
    .unwrap();
    let mut settings = db.settings();
    settings.auth.idp.issuer = ISSUER.into();
    settings.auth.idp.audience = AUDIENCE.into();
    settings.auth.idp.jwks_file = jwks_file;
    settings.auth.idp.match_by = IdpMatch::EmployeeNumber;
    settings.auth.idp.claim = "employee_id".into();
    let app = TestApp::spawn_with(db, settings).await;
    let user = app.user(Role::Employee, None);
    let number: String = users::table
        .filter(users::id.eq(user.id))
        .select(users::employee_number)
        .first(&mut app.conn())
        .unwrap();

    for (kid, k) in [("k0", key(0)), ("k1", key(1))] {
        let token = sign(k, Some(kid), &claims(json!({"employee_id": number})));
        let (status, _, me) = app.get_as(&token, "/api/v1/me").await;
        assert_eq!(status, 200, "{kid}: {me}");
        assert_eq!(me["id"], user.id.to_string());
    }
    let wrong_kid = sign(key(0), Some("k1"), &claims(json!({"employee_id": number})));
    assert_problem(
        &app.get_as(&wrong_kid, "/api/v1/me").await,
        401,
        "invalid_token",
    );
    let unknown_kid = sign(key(0), Some("k9"), &claims(json!({"employee_id": number})));
    assert_problem(
        &app.get_as(&unknown_kid, "/api/v1/me").await,
        401,
        "invalid_token",
    );
}

both_backends!(
    provider_tokens_with_a_pem_key_map_by_email,
    provider_tokens_with_a_jwks_map_by_employee_number,
);
