//! "Sign in with the company account" against an OpenID Connect provider the test runs on
//! loopback (`tests/common/oidc.rs`): the authorization code flow with PKCE as a browser
//! follows it, and every way it must fail without signing anyone in.

mod common;

use common::oidc::{CLIENT_ID, CLIENT_SECRET, Person, Provider};
use common::web::{Browser, Page};
use common::{Backend, TestApp, TestDb, TestUser};
use tomoni::auth::Role;
use tomoni::config::{IdpMatch, Secret};

async fn app_with_provider(backend: &Backend) -> (TestApp, Provider) {
    app_matching(backend, IdpMatch::Email, "email").await
}

/// The app with the provider configured, people matched by `match_by` from `claim`.
async fn app_matching(backend: &Backend, match_by: IdpMatch, claim: &str) -> (TestApp, Provider) {
    let provider = Provider::start().await;
    let db = TestDb::new(backend);
    let mut settings = db.settings();
    settings.auth.oidc.issuer_url = provider.issuer.clone();
    settings.auth.oidc.client_id = CLIENT_ID.into();
    settings.auth.oidc.client_secret = Secret::new(CLIENT_SECRET);
    settings.auth.oidc.match_by = match_by;
    settings.auth.oidc.claim = claim.into();
    (TestApp::spawn_with(db, settings).await, provider)
}

/// GETs an absolute URL outside the app (the provider), redirects not followed.
async fn visit(url: &str) -> Page {
    let mut res = awc::Client::builder()
        .disable_redirects()
        .finish()
        .get(url)
        .send()
        .await
        .expect("GET provider");
    let body = res.body().await.expect("body");
    Page {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Starts the flow at the sign-in button and follows the provider back to the callback URL
/// (not yet opened), as a browser would.
async fn to_callback(app: &TestApp, browser: &mut Browser, next: &str) -> String {
    let start = browser
        .get(
            app,
            &format!("/sign-in/oidc?next={}", tomoni::web::encode(next)),
        )
        .await;
    assert_eq!(start.status, 303, "{}", start.body);
    let at_provider = start.location().expect("to the provider");
    assert!(
        at_provider.contains("code_challenge_method=S256"),
        "{at_provider}"
    );
    assert!(at_provider.contains("nonce=") && at_provider.contains("state="));
    let back = visit(&at_provider).await;
    assert_eq!(back.status, 302, "{}", back.body);
    back.location().expect("back to tomoni")
}

fn path_of(app: &TestApp, url: &str) -> String {
    url.trim_start_matches(&app.url("")).to_owned()
}

async fn employee(app: &TestApp) -> TestUser {
    app.user(Role::Employee, None)
}

async fn the_company_account_signs_in_the_matching_employee(backend: Backend) {
    let (app, provider) = app_with_provider(&backend).await;
    let user = employee(&app).await;
    let mut browser = Browser::default();
    let sign_in = browser.get(&app, "/sign-in").await;
    assert!(
        sign_in.body.contains("Sign in with Company account"),
        "{}",
        sign_in.body
    );
    provider.sign_in_as(Person {
        email: Some(user.email.to_uppercase()),
        ..Person::default()
    });
    let callback = to_callback(&app, &mut browser, "/my/signups").await;
    assert!(
        callback.starts_with(&app.url("/sign-in/oidc/callback?code=")),
        "{callback}"
    );
    let done = browser.get(&app, &path_of(&app, &callback)).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location().as_deref(), Some("/my/signups"));
    assert!(browser.session().is_some());
    let mine = browser.get(&app, "/my/signups").await;
    assert_eq!(mine.status, 200);
    assert_eq!(provider.tokens_issued(), 1);
    // The same callback again (a replayed code) signs nobody else in.
    let mut other = Browser {
        cookies: browser
            .cookies
            .iter()
            .filter(|(k, _)| k == "tomoni_oidc")
            .cloned()
            .collect(),
        ..Browser::default()
    };
    let replay = other.get(&app, &path_of(&app, &callback)).await;
    assert_eq!(replay.status, 401, "{}", replay.body);
    assert_eq!(other.session(), None);
}

async fn a_sign_in_that_does_not_check_out_signs_nobody_in(backend: Backend) {
    let (app, provider) = app_with_provider(&backend).await;
    let user = employee(&app).await;
    let good = Person {
        email: Some(user.email.clone()),
        ..Person::default()
    };
    let cases: Vec<(&str, Person, u16, &str)> = vec![
        (
            "unknown person",
            Person {
                email: Some("stranger@example.com".into()),
                ..good.clone()
            },
            401,
            "no active tomoni account",
        ),
        (
            "unverified email",
            Person {
                email_verified: false,
                ..good.clone()
            },
            401,
            "did not work",
        ),
        (
            "another key",
            Person {
                wrong_key: true,
                ..good.clone()
            },
            401,
            "did not work",
        ),
        (
            "another nonce",
            Person {
                wrong_nonce: true,
                ..good.clone()
            },
            401,
            "did not work",
        ),
        (
            "access token swapped",
            Person {
                wrong_at_hash: true,
                ..good.clone()
            },
            401,
            "did not work",
        ),
        ("provider refuses", Person::default(), 401, "did not work"),
    ];
    for (what, person, status, says) in cases {
        provider.sign_in_as(person);
        let mut browser = Browser::default();
        let callback = to_callback(&app, &mut browser, "/events").await;
        let page = browser.get(&app, &path_of(&app, &callback)).await;
        assert_eq!(page.status, status, "{what}: {}", page.body);
        assert!(page.body.contains(says), "{what}: {}", page.body);
        assert_eq!(browser.session(), None, "{what}: signed in anyway");
    }
    // The provider's answer in a browser that did not start the flow (no flow cookie, or
    // another flow's): refused, the code is not even exchanged.
    provider.sign_in_as(good);
    let before = provider.tokens_issued();
    let mut starter = Browser::default();
    let callback = to_callback(&app, &mut starter, "/events").await;
    let mut stranger = Browser::default();
    let page = stranger.get(&app, &path_of(&app, &callback)).await;
    assert_eq!(page.status, 401, "{}", page.body);
    let mut other_flow = Browser::default();
    to_callback(&app, &mut other_flow, "/events").await;
    let page = other_flow.get(&app, &path_of(&app, &callback)).await;
    assert_eq!(page.status, 401, "another flow's state: {}", page.body);
    assert_eq!(provider.tokens_issued(), before, "no code was exchanged");
    // The starter still can, once.
    let page = starter.get(&app, &path_of(&app, &callback)).await;
    assert_eq!(page.status, 303, "{}", page.body);
    // A deactivated account cannot come in through the provider either.
    let admin = app.user(Role::Admin, None);
    let (status, _, _) = app
        .call(
            "PATCH",
            &format!("/api/v1/users/{}", user.id),
            Some(&app.token(&admin)),
            Some(serde_json::json!({"active": false})),
        )
        .await;
    assert_eq!(status, 200);
    let mut browser = Browser::default();
    let callback = to_callback(&app, &mut browser, "/events").await;
    let page = browser.get(&app, &path_of(&app, &callback)).await;
    assert_eq!(page.status, 401);
    assert_eq!(browser.session(), None);
}

async fn the_company_account_can_name_the_employee_by_number(backend: Backend) {
    let (app, provider) = app_matching(&backend, IdpMatch::EmployeeNumber, "employee_number").await;
    let user = employee(&app).await;
    let number = app.employee_number(&user);
    // The address at the provider is not the one tomoni knows: the number decides.
    provider.sign_in_as(Person {
        email: Some("someone.else@provider.example".into()),
        employee_number: Some(number),
        ..Person::default()
    });
    let mut browser = Browser::default();
    let callback = to_callback(&app, &mut browser, "/my/signups").await;
    let done = browser.get(&app, &path_of(&app, &callback)).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let profile = browser.get(&app, "/my/profile").await;
    assert_eq!(profile.status, 200);
    assert!(profile.body.contains(&user.email), "{}", profile.body);
    // Without the claim nobody is signed in, and the page says what was missing.
    provider.sign_in_as(Person {
        email: Some(user.email.clone()),
        ..Person::default()
    });
    let mut browser = Browser::default();
    let callback = to_callback(&app, &mut browser, "/my/signups").await;
    let page = browser.get(&app, &path_of(&app, &callback)).await;
    assert_eq!(page.status, 401, "{}", page.body);
    assert_eq!(browser.session(), None);
}

async fn without_a_provider_there_is_no_company_sign_in(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut browser = Browser::default();
    let page = browser.get(&app, "/sign-in").await;
    assert!(!page.body.contains("/sign-in/oidc"));
    assert_eq!(browser.get(&app, "/sign-in/oidc").await.status, 404);
    assert_eq!(
        browser
            .get(&app, "/sign-in/oidc/callback?code=x&state=y")
            .await
            .status,
        404
    );
}

both_backends!(
    the_company_account_signs_in_the_matching_employee,
    a_sign_in_that_does_not_check_out_signs_nobody_in,
    the_company_account_can_name_the_employee_by_number,
    without_a_provider_there_is_no_company_sign_in,
);
